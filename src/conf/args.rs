//! Helpers shared by the directive setters. Each setter returns NGX_CONF_OK, NGX_CONF_ERROR
//! after logging, or a static string that nginx turns into `"<directive>" directive <string>`.

use std::ffi::c_char;
use std::rc::Rc;

use ngx::ffi::{
    ngx_conf_full_name, ngx_conf_t, ngx_http_compile_complex_value,
    ngx_http_compile_complex_value_t, ngx_http_complex_value_t, ngx_parse_time, ngx_str_t,
    NGX_ERROR, NGX_LOG_EMERG,
};
use ngx::ngx_conf_log_error;

use super::values::{ComplexValue, ConfPos};
use crate::util::bytes;

pub const IS_DUPLICATE: *mut c_char = c"is duplicate".as_ptr() as *mut c_char;

impl ConfPos {
    /// # Safety
    /// `cf` must be the configuration being parsed.
    pub unsafe fn of(cf: *mut ngx_conf_t) -> Self {
        unsafe {
            let cf = &*cf;
            if cf.conf_file.is_null() {
                return ConfPos {
                    file: String::new(),
                    line: 0,
                };
            }
            let f = &*cf.conf_file;
            ConfPos {
                file: String::from_utf8_lossy(bytes(&f.file.name)).into_owned(),
                line: f.line,
            }
        }
    }
}

pub fn arg_str(a: &ngx_str_t) -> String {
    String::from_utf8_lossy(bytes(a)).into_owned()
}

/// Compiles `value` as an nginx complex value in the cycle pool.
///
/// # Safety
/// `cf` must be the configuration being parsed; `value` lives in the cycle pool.
pub unsafe fn compile_complex(cf: *mut ngx_conf_t, value: &ngx_str_t) -> Option<ComplexValue> {
    unsafe {
        let pool = (*cf).pool;
        let cv = ngx::ffi::ngx_pcalloc(pool, std::mem::size_of::<ngx_http_complex_value_t>())
            as *mut ngx_http_complex_value_t;
        if cv.is_null() {
            return None;
        }
        let mut value = *value;
        let mut ccv: ngx_http_compile_complex_value_t = std::mem::zeroed();
        ccv.cf = cf;
        ccv.value = &mut value;
        ccv.complex_value = cv;
        if ngx_http_compile_complex_value(&mut ccv) != 0 {
            return None;
        }
        Some(ComplexValue(cv))
    }
}

/// Reads a file named in the configuration, relative to the configuration prefix.
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn read_conf_file(
    cf: *mut ngx_conf_t,
    name: &ngx_str_t,
) -> Result<(String, Vec<u8>), String> {
    let mut full = *name;
    // SAFETY: ngx_conf_full_name allocates the absolute name in the cycle pool.
    if unsafe { ngx_conf_full_name((*cf).cycle, &mut full, 1) } == NGX_ERROR as isize {
        return Err("cannot resolve file name".into());
    }
    let path = String::from_utf8_lossy(bytes(&full)).into_owned();
    match std::fs::read(&path) {
        Ok(b) => Ok((path, b)),
        Err(e) => Err(format!("cannot read \"{path}\": {e}")),
    }
}

/// The directive's time argument `arg` in seconds (nginx time syntax: `30s`, `10m`, ...), at
/// least `min`; logs the error and returns `None` otherwise.
pub fn parse_secs(cf: *mut ngx_conf_t, arg: &ngx_str_t, directive: &str, min: u64) -> Option<u64> {
    let mut v = *arg;
    // SAFETY: ngx_parse_time only reads the string.
    let secs = unsafe { ngx_parse_time(&mut v, 1) };
    if secs < 0 || (secs as u64) < min {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "invalid value \"{}\" in \"{directive}\"",
            arg_str(arg)
        );
        return None;
    }
    Some(secs as u64)
}

/// Appends to a list directive's entries at this level (the level's own list replaces the
/// enclosing level's at merge time).
pub fn push_entry<T>(list: &mut Option<Rc<Vec<T>>>, item: T) {
    match list.as_mut().and_then(Rc::get_mut) {
        Some(v) => v.push(item),
        None => *list = Some(Rc::new(vec![item])),
    }
}

/// Splits a trailing `error=CODE` off directive arguments.
pub fn split_error_code(args: &[ngx_str_t]) -> Result<(&[ngx_str_t], u16), String> {
    if let Some((last, rest)) = args.split_last() {
        if let Some(code) = bytes(last).strip_prefix(b"error=") {
            return match code {
                b"401" => Ok((rest, 401)),
                b"403" => Ok((rest, 403)),
                _ => Err(format!(
                    "invalid \"{}\", the code must be 401 or 403",
                    arg_str(last)
                )),
            };
        }
    }
    Ok((args, 403))
}

/// Defines a directive setter: the `extern "C"` function nginx calls, which hands its body
/// the configuration being parsed (`cf`, raw: nginx's logging macros take it so), this
/// module's conf struct of the directive's level, and the directive's arguments.
macro_rules! setter {
    ($(#[$meta:meta])* $name:ident, |$cf:ident, $conf:tt: &mut $T:ty, $args:tt| $body:block) => {
        $(#[$meta])*
        pub extern "C" fn $name(
            cf: *mut ::ngx::ffi::ngx_conf_t,
            _cmd: *mut ::ngx::ffi::ngx_command_t,
            conf: *mut ::std::ffi::c_void,
        ) -> *mut ::std::ffi::c_char {
            #[allow(unused_variables)]
            let $cf = cf;
            // SAFETY: nginx calls a setter with the configuration being parsed, whose `args`
            // hold the directive, and the conf struct this module created for the level the
            // directive is in (`conf` of the command); nothing else uses either meanwhile.
            #[allow(unused_variables)]
            let ($conf, $args): (&mut $T, &[::ngx::ffi::ngx_str_t]) =
                // SAFETY: see above.
                unsafe { (&mut *conf.cast::<$T>(), (*(*cf).args).as_slice()) };
            $body
        }
    };
}
pub(crate) use setter;
