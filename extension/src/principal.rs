//! Who is calling. Every public sched function is a C function bound to `sched_as_caller`: it
//! reads the role executing the call (`GetUserId()`, current_user as the caller sees it, before
//! any privilege switch) and calls the internal SECURITY DEFINER function of the same name with
//! a leading `_` (`sched.start_workflow(...)` → `sched._start_workflow(principal, ...)`), passing
//! that role as the extra first argument.
//!
//! A SECURITY DEFINER function cannot learn who called it: inside, current_user is its owner, and
//! the session user or the `role` setting name whoever opened the session, which is the wrong
//! identity for code run by a lower role inside a privileged session (an index expression under
//! autovacuum, another role's SECURITY DEFINER function). The principal is therefore captured
//! here, where it is still the caller's, and only this trampoline can supply it: the internal
//! functions are executable by nobody but their owner, and a direct fmgr call does not check
//! EXECUTE.
//!
//! An ERROR raised inside the internal function is caught here and raised again as it was
//! (SQLSTATE, message, DETAIL, HINT, the object names) but without what only describes
//! pg_sched's own insides: the CONTEXT lines of its PL/pgSQL and SQL functions
//! (`PL/pgSQL function sched._schedule(...) line 33 at SQL statement`) and the internal
//! statement they ran. The caller's own frames (a user's function that called sched) still add
//! their CONTEXT when it is raised again. The frame declares the few PostgreSQL functions it
//! needs itself instead of using pgrx's guarded bindings (which turn errors into Rust panics),
//! and holds nothing that needs dropping, as a longjmp may cross it.

use std::ffi::{c_char, c_int, c_void};

use pgrx::pg_sys::{
    self, AttrNumber, Datum, ErrorData, FmgrInfo, FunctionCallInfo, FunctionCallInfoBaseData,
    MemoryContext, NullableDatum, Oid, Pg_finfo_record, REGROLEOID, SysCacheIdentifier, oidvector,
};

const ERROR: c_int = 21;
const ANUM_PG_PROC_OID: AttrNumber = 1;
const MAX_ARGS: usize = 99;

unsafe extern "C-unwind" {
    fn GetUserId() -> Oid;
    fn get_func_name(funcid: Oid) -> *mut c_char;
    fn get_func_namespace(funcid: Oid) -> Oid;
    fn get_func_signature(funcid: Oid, argtypes: *mut *mut Oid, nargs: *mut c_int) -> Oid;
    fn buildoidvector(oids: *const Oid, n: c_int) -> *mut oidvector;
    fn GetSysCacheOid(
        cache: c_int,
        oidcol: AttrNumber,
        key1: Datum,
        key2: Datum,
        key3: Datum,
        key4: Datum,
    ) -> Oid;
    fn fmgr_info_cxt(function: Oid, finfo: *mut FmgrInfo, mcxt: MemoryContext);
    fn MemoryContextAllocZero(context: MemoryContext, size: usize) -> *mut c_void;
    fn palloc0(size: usize) -> *mut c_void;
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errmsg_internal(fmt: *const c_char, ...) -> c_int;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
    fn CopyErrorData() -> *mut ErrorData;
    fn FlushErrorState();
    fn ThrowErrorData(edata: *mut ErrorData);
}

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_sched_as_caller() -> &'static Pg_finfo_record {
    static V1: Pg_finfo_record = Pg_finfo_record { api_version: 1 };
    &V1
}

/// # Safety
/// Called by PostgreSQL's function manager only, as the body of a public sched function.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn sched_as_caller(fcinfo: FunctionCallInfo) -> Datum {
    unsafe {
        let principal = GetUserId();
        let flinfo = (*fcinfo).flinfo;
        if flinfo.is_null() {
            raise(c"a function called without function information".as_ptr());
        }
        // The internal function is looked up once per call site and kept with it.
        let mut target = (*flinfo).fn_extra as *mut FmgrInfo;
        if target.is_null() {
            target = resolve((*flinfo).fn_oid, (*flinfo).fn_mcxt);
            (*flinfo).fn_extra = target.cast();
        }

        let nargs = (*fcinfo).nargs as usize;
        let size = std::mem::size_of::<FunctionCallInfoBaseData>()
            + (nargs + 1) * std::mem::size_of::<NullableDatum>();
        let inner = palloc0(size) as FunctionCallInfo;
        (*inner).flinfo = target;
        (*inner).context = (*fcinfo).context;
        // Set-returning internal functions materialise into the caller's result set directly.
        (*inner).resultinfo = (*fcinfo).resultinfo;
        (*inner).fncollation = (*fcinfo).fncollation;
        (*inner).nargs = (nargs + 1) as i16;
        let args = (*inner).args.as_mut_ptr();
        *args = NullableDatum {
            value: Datum::from(principal.to_u32()),
            isnull: false,
        };
        std::ptr::copy_nonoverlapping((*fcinfo).args.as_ptr(), args.add(1), nargs);

        let Some(call) = (*target).fn_addr else {
            raise(c"an internal function without an entry point".as_ptr());
        };
        let result = call_quietly(call, inner);
        (*fcinfo).isnull = (*inner).isnull;
        result
    }
}

/// `call(inner)` as PG_TRY would make it, an ERROR raised again without the context its own
/// frames added. While it runs, the caller's context callbacks are off the stack, so that
/// what the error collects is the internal frames' alone; raising it again runs the caller's.
unsafe fn call_quietly(
    call: unsafe extern "C-unwind" fn(FunctionCallInfo) -> Datum,
    inner: FunctionCallInfo,
) -> Datum {
    unsafe {
        let exception_stack = pg_sys::PG_exception_stack;
        let context_stack = pg_sys::error_context_stack;
        let memory_context = pg_sys::CurrentMemoryContext;
        let mut result = Datum::from(0usize);
        let jumped = cee_scape::call_with_sigsetjmp(false, |jump| {
            pg_sys::PG_exception_stack = std::ptr::from_ref(jump).cast_mut().cast();
            pg_sys::error_context_stack = std::ptr::null_mut();
            result = call(inner);
            0
        });
        pg_sys::PG_exception_stack = exception_stack;
        pg_sys::error_context_stack = context_stack;
        if jumped == 0 {
            return result;
        }
        // As PG_CATCH: out of ErrorContext before copying the error.
        pg_sys::CurrentMemoryContext = memory_context;
        let error = CopyErrorData();
        FlushErrorState();
        (*error).context = std::ptr::null_mut();
        (*error).internalquery = std::ptr::null_mut();
        (*error).internalpos = 0;
        ThrowErrorData(error);
        // ThrowErrorData does not return for an ERROR; nothing may unwind into PostgreSQL's frames.
        std::process::abort()
    }
}

/// Finds `_<name>(regrole, <the public function's argument types>)` in the public function's
/// schema and prepares a call of it in `mcxt`.
unsafe fn resolve(public_fn: Oid, mcxt: MemoryContext) -> *mut FmgrInfo {
    unsafe {
        let name = get_func_name(public_fn);
        let namespace = get_func_namespace(public_fn);
        let mut argtypes: *mut Oid = std::ptr::null_mut();
        let mut nargs: c_int = 0;
        get_func_signature(public_fn, &mut argtypes, &mut nargs);
        let nargs = nargs as usize;
        if name.is_null() || nargs > MAX_ARGS {
            raise(c"a public function whose signature cannot be read".as_ptr());
        }

        let name_len = std::ffi::CStr::from_ptr(name).to_bytes().len();
        let internal_name = palloc0(name_len + 2) as *mut c_char;
        *internal_name = b'_' as c_char;
        std::ptr::copy_nonoverlapping(name, internal_name.add(1), name_len);

        let mut internal_args = [Oid::INVALID; MAX_ARGS + 1];
        internal_args[0] = REGROLEOID;
        std::ptr::copy_nonoverlapping(argtypes, internal_args.as_mut_ptr().add(1), nargs);
        let signature = buildoidvector(internal_args.as_ptr(), (nargs + 1) as c_int);

        let internal = GetSysCacheOid(
            SysCacheIdentifier::PROCNAMEARGSNSP as c_int,
            ANUM_PG_PROC_OID,
            Datum::from(internal_name),
            Datum::from(signature),
            Datum::from(namespace.to_u32()),
            Datum::from(0usize),
        );
        if internal == Oid::INVALID {
            raise(internal_name);
        }
        let target = MemoryContextAllocZero(mcxt, std::mem::size_of::<FmgrInfo>()) as *mut FmgrInfo;
        fmgr_info_cxt(internal, target, mcxt);
        target
    }
}

/// ereport(ERROR) naming `what`; these only fire if the extension's SQL is inconsistent.
unsafe fn raise(what: *const c_char) -> ! {
    unsafe {
        if errstart(ERROR, std::ptr::null()) {
            errmsg_internal(
                c"sched_as_caller: cannot call %s; is the pg_sched extension script complete?"
                    .as_ptr(),
                what,
            );
            errfinish(
                c"principal.rs".as_ptr(),
                line!() as c_int,
                c"sched_as_caller".as_ptr(),
            );
        }
        // errfinish does not return for ERROR; nothing may unwind into PostgreSQL's frames.
        std::process::abort()
    }
}
