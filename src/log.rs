//! Logging in nginx-acme's style: `log_error!`, `log_warn!`, `log_info!` and `log_debug!` format into a stack
//! buffer (no allocation) and only when the level is enabled.
//!
//! A target is a log pointer (configuration or background work) or a request, whose lines end
//! with `, client: <address>`. nginx's request context handler is never run: it would append
//! the request line, which can carry a token in its query string. No line may contain token or
//! signature bytes (README "Logging").

use std::fmt;

use ngx::ffi::{ngx_log_t, ngx_uint_t, NGX_LOG_DEBUG_HTTP};
use ngx::http::Request;

/// Where a line goes: the log, and the client address of a request.
pub trait LogTarget {
    fn log_target(&self) -> (*mut ngx_log_t, Option<Client<'_>>);
}

impl LogTarget for *mut ngx_log_t {
    fn log_target(&self) -> (*mut ngx_log_t, Option<Client<'_>>) {
        (*self, None)
    }
}

impl LogTarget for Request {
    fn log_target(&self) -> (*mut ngx_log_t, Option<Client<'_>>) {
        let c = self.connection();
        // SAFETY: a live request has a live connection (nginx's invariant for r->connection).
        unsafe { ((*c).log, Some(Client((*c).addr_text.as_bytes()))) }
    }
}

impl<T: LogTarget + ?Sized> LogTarget for &T {
    fn log_target(&self) -> (*mut ngx_log_t, Option<Client<'_>>) {
        (**self).log_target()
    }
}

impl<T: LogTarget + ?Sized> LogTarget for &mut T {
    fn log_target(&self) -> (*mut ngx_log_t, Option<Client<'_>>) {
        (**self).log_target()
    }
}

/// A client address, printed as text.
pub struct Client<'a>(&'a [u8]);

impl fmt::Display for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

/// Whether `log` writes messages of `level`.
pub fn enabled(log: *mut ngx_log_t, level: ngx_uint_t) -> bool {
    // SAFETY: log is null or a live nginx log.
    !log.is_null() && unsafe { (*log).log_level } >= level
}

/// Whether `log` writes HTTP debug messages (nginx built `--with-debug`, `error_log ... debug`).
pub fn debug_enabled(log: *mut ngx_log_t) -> bool {
    // SAFETY: log is null or a live nginx log.
    ngx::log::DEBUG
        && !log.is_null()
        && unsafe { (*log).log_level } & NGX_LOG_DEBUG_HTTP as ngx_uint_t != 0
}

/// Writes a formatted line, without the log's context handler.
pub fn write(log: *mut ngx_log_t, level: ngx_uint_t, msg: &[u8]) {
    // SAFETY: log is a live nginx log (checked by `enabled`); the handler is restored at once.
    unsafe {
        let saved = (*log).handler;
        (*log).handler = None;
        ngx::log::log_error(level, log, 0, msg);
        (*log).handler = saved;
    }
}

/// `log_at!(level, target, "format", args...)`: the macro behind the level macros.
macro_rules! log_at {
    ($level:expr, $enabled:path, $target:expr, $($arg:tt)+) => {{
        let target = &$target;
        let (log, client) = $crate::log::LogTarget::log_target(target);
        let level = $level as ::ngx::ffi::ngx_uint_t;
        if $enabled(log, level) {
            let mut buf = [const { ::core::mem::MaybeUninit::<u8>::uninit() };
                ::ngx::log::LOG_BUFFER_SIZE];
            let msg = match client {
                Some(c) => ::ngx::log::write_fmt(
                    &mut buf,
                    format_args!("{}, client: {}", format_args!($($arg)+), c),
                ),
                None => ::ngx::log::write_fmt(&mut buf, format_args!($($arg)+)),
            };
            $crate::log::write(log, level, msg);
        }
    }};
}

macro_rules! log_error {
    ($target:expr, $($arg:tt)+) => {
        $crate::log::log_at!(::ngx::ffi::NGX_LOG_ERR, $crate::log::enabled, $target, $($arg)+)
    };
}

macro_rules! log_warn {
    ($target:expr, $($arg:tt)+) => {
        $crate::log::log_at!(::ngx::ffi::NGX_LOG_WARN, $crate::log::enabled, $target, $($arg)+)
    };
}

macro_rules! log_info {
    ($target:expr, $($arg:tt)+) => {
        $crate::log::log_at!(::ngx::ffi::NGX_LOG_INFO, $crate::log::enabled, $target, $($arg)+)
    };
}

/// HTTP debug lines: compiled in, but cheap (one flag test) unless nginx logs at debug level.
macro_rules! log_debug {
    ($target:expr, $($arg:tt)+) => {
        $crate::log::log_at!(
            ::ngx::ffi::NGX_LOG_DEBUG,
            $crate::log::debug_at,
            $target,
            $($arg)+
        )
    };
}

/// `debug_enabled` with the signature `log_at!` expects.
pub fn debug_at(log: *mut ngx_log_t, _level: ngx_uint_t) -> bool {
    debug_enabled(log)
}

pub(crate) use {log_at, log_debug, log_error, log_info, log_warn};
