//! Integer expressions of `$[...]` (month, day and week offsets): `+ - * /`, parentheses
//! and signs, on 64-bit integers, division truncating toward zero as in Java.
//!
//! Evaluated with operator and value stacks instead of recursion, so that a long run of
//! parentheses or signs costs heap, not stack. A sign binds tighter than any operator
//! (`-1+2` is 1); DolphinScheduler's own parser gives a leading sign the lowest priority
//! (`-1+2` is -3 there), which no one writing an offset means.

pub(super) enum ArithError {
    /// Not an expression; the text says what is wrong.
    Syntax(String),
    DivisionByZero,
    Overflow,
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Plus,
}

impl Op {
    fn priority(self) -> u8 {
        match self {
            Op::Add | Op::Sub => 1,
            Op::Mul | Op::Div => 2,
            Op::Neg | Op::Plus => 3,
        }
    }
}

/// An entry of the operator stack: an operator waiting for its operands, or an open
/// parenthesis, which stops operators after it from reaching those before it.
#[derive(Clone, Copy)]
enum Pending {
    Op(Op),
    Open,
}

pub(super) fn evaluate(text: &str) -> Result<i64, ArithError> {
    let mut values: Vec<i64> = Vec::new();
    let mut ops: Vec<Pending> = Vec::new();
    // Whether the next token must be a number, '(' or a sign rather than an operator.
    let mut want_operand = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if c.is_whitespace() => {}
            '0'..='9' => {
                if !want_operand {
                    return Err(syntax("a number follows a number or ')' with no operator"));
                }
                let mut number = i64::from(c as u8 - b'0');
                while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                    number = number
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(i64::from(digit as u8 - b'0')))
                        .ok_or(ArithError::Overflow)?;
                }
                values.push(number);
                want_operand = false;
            }
            '(' => {
                if !want_operand {
                    return Err(syntax("'(' follows a number or ')' with no operator"));
                }
                ops.push(Pending::Open);
            }
            ')' => {
                if want_operand {
                    return Err(syntax("')' comes where a number should be"));
                }
                loop {
                    match ops.pop() {
                        Some(Pending::Open) => break,
                        Some(Pending::Op(op)) => apply(op, &mut values)?,
                        None => return Err(syntax("')' has no matching '('")),
                    }
                }
            }
            '+' | '-' if want_operand => {
                ops.push(Pending::Op(if c == '-' { Op::Neg } else { Op::Plus }));
            }
            '+' | '-' | '*' | '/' => {
                if want_operand {
                    return Err(syntax(&format!("'{c}' comes where a number should be")));
                }
                let op = match c {
                    '+' => Op::Add,
                    '-' => Op::Sub,
                    '*' => Op::Mul,
                    _ => Op::Div,
                };
                while let Some(&Pending::Op(top)) = ops.last() {
                    if top.priority() < op.priority() {
                        break;
                    }
                    ops.pop();
                    apply(top, &mut values)?;
                }
                ops.push(Pending::Op(op));
                want_operand = true;
            }
            _ => return Err(syntax(&format!("unexpected {:?}", c.to_string()))),
        }
    }
    if want_operand {
        return Err(syntax(if values.is_empty() && ops.is_empty() {
            "it is empty"
        } else {
            "it ends where a number should be"
        }));
    }
    while let Some(pending) = ops.pop() {
        match pending {
            Pending::Op(op) => apply(op, &mut values)?,
            Pending::Open => return Err(syntax("'(' is not closed")),
        }
    }
    // The operand checks above leave exactly one value once every operator is applied.
    values.pop().ok_or_else(|| syntax("it is empty"))
}

fn syntax(message: &str) -> ArithError {
    ArithError::Syntax(message.to_owned())
}

fn apply(op: Op, values: &mut Vec<i64>) -> Result<(), ArithError> {
    let missing = || syntax("an operator lacks a number");
    let right = values.pop().ok_or_else(missing)?;
    let result = match op {
        Op::Neg => right.checked_neg(),
        Op::Plus => Some(right),
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let left = values.pop().ok_or_else(missing)?;
            match op {
                Op::Add => left.checked_add(right),
                Op::Sub => left.checked_sub(right),
                Op::Mul => left.checked_mul(right),
                _ if right == 0 => return Err(ArithError::DivisionByZero),
                _ => left.checked_div(right),
            }
        }
    };
    values.push(result.ok_or(ArithError::Overflow)?);
    Ok(())
}
