//! The condition language of SWITCH cases: `${var}`, string, number and boolean literals,
//! `== != < <= > >=`, `&& || !` and parentheses. DolphinScheduler evaluates JavaScript
//! here; a closed language cannot run code, and its errors are found when the workflow is
//! created. Variables are the parameter values the task sees, which are texts: compared with
//! a number they are read as numbers, with a boolean as `true`/`false`.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    Var(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What went wrong, and where in the text (a byte offset) for parse errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError(pub String);

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Number(f64),
    Bool(bool),
    Var(String),
    Op(&'static str),
    Open,
    Close,
}

const OPERATORS: &[&str] = &["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!"];

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExprError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let col = |byte: usize| text[..byte].chars().count() + 1;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'(' || c == b')' {
            tokens.push((start, if c == b'(' { Token::Open } else { Token::Close }));
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let mut value = String::new();
            i += 1;
            loop {
                match text[i..].chars().next() {
                    None => {
                        return Err(ExprError(format!(
                            "the string starting at character {} has no closing quote",
                            col(start)
                        )));
                    }
                    Some('\\') => {
                        let next = text[i + 1..]
                            .chars()
                            .next()
                            .ok_or_else(|| ExprError("the text ends after a backslash".into()))?;
                        value.push(next);
                        i += 1 + next.len_utf8();
                    }
                    Some(ch) if ch as u32 == u32::from(c) => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            tokens.push((start, Token::Text(value)));
        } else if c == b'$' {
            if bytes.get(i + 1) != Some(&b'{') {
                return Err(ExprError(format!(
                    "'$' at character {} must start ${{name}}",
                    col(start)
                )));
            }
            let end = text[i..].find('}').ok_or_else(|| {
                ExprError(format!("${{ at character {} is not closed", col(start)))
            })?;
            let name = text[i + 2..i + end].trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
            {
                return Err(ExprError(format!(
                    "${{{name}}} at character {}: a parameter name is letters, digits, '_', '.' and '-'",
                    col(start)
                )));
            }
            tokens.push((start, Token::Var(name.to_owned())));
            i += end + 1;
        } else if c.is_ascii_digit()
            || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let number = text[start..i].parse::<f64>().map_err(|_| {
                ExprError(format!(
                    "{} at character {} is not a number",
                    &text[start..i],
                    col(start)
                ))
            })?;
            tokens.push((start, Token::Number(number)));
        } else if c.is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            match &text[start..i] {
                "true" => tokens.push((start, Token::Bool(true))),
                "false" => tokens.push((start, Token::Bool(false))),
                word => {
                    return Err(ExprError(format!(
                        "unknown word {word:?} at character {}; write parameters as ${{{word}}} and texts in quotes",
                        col(start)
                    )));
                }
            }
        } else if let Some(op) = OPERATORS.iter().find(|op| text[i..].starts_with(**op)) {
            tokens.push((start, Token::Op(op)));
            i += op.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(ExprError(format!(
                "unexpected {ch:?} at character {}; allowed: ${{name}}, \"text\", numbers, true, false, == != < <= > >=, && || !, ( )",
                col(start)
            )));
        }
    }
    Ok(tokens)
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<(usize, Token)>,
    at: usize,
    values: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    /// The character (not byte) the next token starts at, from 1.
    fn position(&self) -> usize {
        let byte = self
            .tokens
            .get(self.at)
            .map_or(self.text.len(), |(p, _)| *p);
        self.text[..byte].chars().count() + 1
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.and(depth)?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.not(depth)?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.not(depth)?));
        }
        Ok(left)
    }

    fn not(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if depth > MAX_DEPTH {
            return Err(ExprError(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.compare(depth)
    }

    fn compare(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let left = self.primary(depth)?;
        let op = match self.peek() {
            Some(Token::Op("==")) => CompareOp::Eq,
            Some(Token::Op("!=")) => CompareOp::Ne,
            Some(Token::Op("<")) => CompareOp::Lt,
            Some(Token::Op("<=")) => CompareOp::Le,
            Some(Token::Op(">")) => CompareOp::Gt,
            Some(Token::Op(">=")) => CompareOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.primary(depth)?;
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ExprError> {
        // Chains of && and || build a tree as deep as they are long, which evaluating and
        // dropping it walk recursively.
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(ExprError(format!(
                "more than {MAX_VALUES} values in one condition"
            )));
        }
        let position = self.position();
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| ExprError("the condition ends where a value should be".to_owned()))?;
        self.at += 1;
        match token {
            Token::Text(text) => Ok(Expr::Literal(Literal::Text(text))),
            Token::Number(n) => Ok(Expr::Literal(Literal::Number(n))),
            Token::Bool(b) => Ok(Expr::Literal(Literal::Bool(b))),
            Token::Var(name) => Ok(Expr::Var(name)),
            Token::Open => {
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(ExprError(format!(
                        "'(' at character {position} is not closed"
                    )));
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Close | Token::Op(_) => Err(ExprError(format!(
                "expected a value at character {position}"
            ))),
        }
    }
}

const MAX_DEPTH: usize = 32;
const MAX_VALUES: usize = 256;

/// Parses a condition, or says what is wrong and where.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    if text.trim().is_empty() {
        return Err(ExprError("must not be empty".into()));
    }
    let mut parser = Parser {
        text,
        tokens: tokenize(text)?,
        at: 0,
        values: 0,
    };
    let expr = parser.or(0)?;
    if parser.at < parser.tokens.len() {
        return Err(ExprError(format!(
            "unexpected text at character {}",
            parser.position()
        )));
    }
    Ok(expr)
}

/// A value while evaluating: a variable stays text until what it is compared with says how
/// to read it.
enum Value<'a> {
    Literal(&'a Literal),
    Var(&'a str, &'a str),
    Bool(bool),
}

impl Expr {
    /// Evaluates the condition over parameter values; an unknown parameter or values that
    /// cannot be compared are an error, which SWITCH counts as false.
    pub fn eval(&self, values: &BTreeMap<String, String>) -> Result<bool, ExprError> {
        truth(&self.value(values)?)
    }

    fn value<'a>(&'a self, values: &'a BTreeMap<String, String>) -> Result<Value<'a>, ExprError> {
        Ok(match self {
            Expr::Literal(l) => Value::Literal(l),
            Expr::Var(name) => match values.get(name) {
                Some(text) => Value::Var(name, text),
                None => return Err(ExprError(format!("no parameter ${{{name}}}"))),
            },
            Expr::Not(e) => Value::Bool(!e.eval(values)?),
            Expr::And(a, b) => Value::Bool(a.eval(values)? && b.eval(values)?),
            Expr::Or(a, b) => Value::Bool(a.eval(values)? || b.eval(values)?),
            Expr::Compare(a, op, b) => {
                Value::Bool(compare(&a.value(values)?, *op, &b.value(values)?)?)
            }
        })
    }
}

fn truth(value: &Value<'_>) -> Result<bool, ExprError> {
    match value {
        Value::Bool(b) | Value::Literal(Literal::Bool(b)) => Ok(*b),
        Value::Var(name, text) => parse_bool(text)
            .ok_or_else(|| ExprError(format!("${{{name}}} is {text:?}, not true or false"))),
        Value::Literal(_) => Err(ExprError("a text or number is not a condition".into())),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn number(value: &Value<'_>) -> Result<f64, ExprError> {
    match value {
        Value::Literal(Literal::Number(n)) => Ok(*n),
        Value::Var(name, text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| ExprError(format!("${{{name}}} is {text:?}, not a number"))),
        _ => Err(ExprError(
            "a number is compared with something that is not one".into(),
        )),
    }
}

fn compare(a: &Value<'_>, op: CompareOp, b: &Value<'_>) -> Result<bool, ExprError> {
    use std::cmp::Ordering;
    let is = |v: &Value<'_>, f: fn(&Literal) -> bool| matches!(v, Value::Literal(l) if f(l));
    let ordering = if is(a, |l| matches!(l, Literal::Number(_)))
        || is(b, |l| matches!(l, Literal::Number(_)))
    {
        number(a)?.partial_cmp(&number(b)?)
    } else if matches!(a, Value::Bool(_))
        || matches!(b, Value::Bool(_))
        || is(a, |l| matches!(l, Literal::Bool(_)))
        || is(b, |l| matches!(l, Literal::Bool(_)))
    {
        let (x, y) = (truth(a)?, truth(b)?);
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Err(ExprError(
                "true and false compare only with == and !=".into(),
            ));
        }
        Some(x.cmp(&y))
    } else {
        let text = |v: &'_ Value<'_>| -> String {
            match v {
                Value::Literal(Literal::Text(t)) => t.clone(),
                Value::Var(_, t) => (*t).to_owned(),
                _ => String::new(),
            }
        };
        let (x, y) = (text(a), text(b));
        // Two parameters that both read as numbers compare as numbers ("9" < "10").
        match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
            (Ok(m), Ok(n)) if matches!((a, b), (Value::Var(..), Value::Var(..))) => {
                m.partial_cmp(&n)
            }
            _ => Some(x.cmp(&y)),
        }
    };
    let ordering = ordering.ok_or_else(|| ExprError("the numbers do not compare".into()))?;
    Ok(match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, vars: &[(&str, &str)]) -> Result<bool, ExprError> {
        let values = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(text)?.eval(&values)
    }

    #[test]
    fn compares_texts_numbers_and_booleans() {
        assert_eq!(eval(r#"${env} == "prod""#, &[("env", "prod")]), Ok(true));
        assert_eq!(eval("${env} != 'prod'", &[("env", "dev")]), Ok(true));
        assert_eq!(eval("${n} > 9", &[("n", "10")]), Ok(true));
        assert_eq!(eval("${n} <= -1.5", &[("n", "-2")]), Ok(true));
        assert_eq!(eval("${a} < ${b}", &[("a", "9"), ("b", "10")]), Ok(true));
        assert_eq!(eval("${flag}", &[("flag", "TRUE")]), Ok(true));
        assert_eq!(eval("${flag} == false", &[("flag", "false")]), Ok(true));
        assert_eq!(eval("true", &[]), Ok(true));
    }

    #[test]
    fn combines_with_precedence() {
        let vars = [("a", "1"), ("b", "2")];
        assert_eq!(eval("${a} == 1 || ${b} == 3 && false", &vars), Ok(true));
        assert_eq!(eval("(${a} == 1 || ${b} == 3) && false", &vars), Ok(false));
        assert_eq!(eval("!(${a} == 2) && !false", &vars), Ok(true));
    }

    #[test]
    fn evaluation_errors_name_the_parameter() {
        assert_eq!(
            eval("${missing} == 1", &[]),
            Err(ExprError("no parameter ${missing}".into()))
        );
        assert!(
            eval("${n} > 1", &[("n", "abc")])
                .unwrap_err()
                .0
                .contains("not a number")
        );
        assert!(
            eval("${n}", &[("n", "abc")])
                .unwrap_err()
                .0
                .contains("not true or false")
        );
        // Short-circuit: the right side is never looked at.
        assert_eq!(eval("true || ${missing} == 1", &[]), Ok(true));
    }

    #[test]
    fn parse_errors_say_where() {
        for (text, fragment) in [
            ("", "empty"),
            ("${a} ==", "ends where a value"),
            ("(${a} == 1", "not closed"),
            ("a == 1", "unknown word"),
            ("${a} = 1", "unexpected '='"),
            ("'abc", "no closing quote"),
            ("${a b} == 1", "parameter name"),
            ("${a} == 1 2", "unexpected text"),
            ("alert(1)", "unknown word"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.0.contains(fragment), "{text:?}: {err}");
        }
        let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().0.contains("nested"));
        let long = vec!["true"; 50_000].join(" && ");
        assert!(parse(&long).unwrap_err().0.contains("more than 256 values"));
        assert!(
            parse(r#"${x} == "é" é"#)
                .unwrap_err()
                .0
                .contains("character 13")
        );
    }
}
