//! The per-request outcome of the gate, read by the variables.
//!
//! nginx wipes module contexts on internal redirects (`error_page`, `try_files`, named locations)
//! while keeping the request pool, so the context lives in a pool cleanup record: it is found
//! again after a redirect, and its `Drop` runs when the request ends.

use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;

use auth_jwt_core::verify::Verified;
use ngx::ffi::{ngx_http_request_t, ngx_pool_cleanup_add};
use ngx::http::HttpModule;

use crate::conf::Gate;
use crate::gate::Decision;
use crate::util::Cleanup;
use crate::Module;

/// `$jwt_status` values (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtStatus {
    Ok,
    Missing,
    Invalid,
    Forbidden,
    FallbackOk,
    FallbackDenied,
    Error,
}

impl JwtStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtStatus::Ok => "ok",
            JwtStatus::Missing => "missing",
            JwtStatus::Invalid => "invalid",
            JwtStatus::Forbidden => "forbidden",
            JwtStatus::FallbackOk => "fallback_ok",
            JwtStatus::FallbackDenied => "fallback_denied",
            JwtStatus::Error => "error",
        }
    }
}

/// Progress of the `auth_jwt_rs_fallback` subrequest.
pub enum Fallback {
    /// Started; the access handler waits for it.
    InFlight,
    /// Finished with this subrequest and its status.
    Done {
        sr: *mut ngx_http_request_t,
        status: usize,
    },
}

pub struct Ctx {
    owner: *mut ngx_http_request_t,
    /// `r->uri_changes` when the decision was made: nginx decrements it on every internal
    /// redirect, so a different value means the request has moved to another location.
    generation: u32,
    pub status: Option<JwtStatus>,
    pub reason: Option<&'static str>,
    pub verified: Option<Rc<Verified>>,
    /// The authentication outcome and the location (its gate) it was reached for.
    pub authenticated: Option<(*const Gate, Decision)>,
    pub fallback: Option<Fallback>,
    /// An unknown-kid key refetch was already tried for this request.
    pub key_refetched: bool,
    /// `auth_jwt_rs_fallback_set` results: (variable index, value).
    pub fallback_values: Vec<(usize, Vec<u8>)>,
}

impl Ctx {
    /// Forgets any earlier decision (the gate runs again, e.g. after an internal redirect).
    pub fn reset(&mut self) {
        // SAFETY: owner is the live request this context belongs to.
        self.generation = unsafe { (*self.owner).uri_changes() };
        self.status = None;
        self.reason = None;
        self.verified = None;
        self.authenticated = None;
        self.fallback = None;
        self.fallback_values.clear();
    }

    /// Whether the fallback subrequest, not a JWT, decided this request.
    pub fn by_fallback(&self) -> bool {
        matches!(
            self.status,
            Some(JwtStatus::FallbackOk | JwtStatus::FallbackDenied)
        )
    }

    /// The `auth_jwt_rs_fallback_set` value of variable `index`, if the fallback set it.
    pub fn fallback_value(&self, index: usize) -> Option<&[u8]> {
        self.fallback_values
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| v.as_slice())
    }
}

/// The one pointer value written into, and compared with, pool cleanup records.
static DROP_CTX: Cleanup = drop_ctx;

unsafe extern "C" fn drop_ctx(data: *mut c_void) {
    // SAFETY: data is the Ctx written by `get_or_create`, dropped once with the pool.
    unsafe { ptr::drop_in_place(data.cast::<Ctx>()) }
}

fn slot(r: *mut ngx_http_request_t) -> *mut *mut c_void {
    // SAFETY: r->ctx has one slot per HTTP module; our ctx_index is valid after init.
    unsafe { (*r).ctx.add(Module::module().ctx_index) }
}

/// The context of `r` if its decision was made in the current location, i.e. not before an
/// internal redirect (decisions are per location; variables keep the last one).
pub fn current<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut Ctx> {
    // SAFETY: r is live.
    let generation = unsafe { (*r).uri_changes() };
    own(r).filter(|c| c.generation == generation && c.status.is_some())
}

/// The context `r` itself owns (also after an internal redirect wiped its module context).
pub fn own<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut Ctx> {
    // SAFETY: the slot holds null or a Ctx we installed; the pool outlives every use.
    unsafe {
        let p = *slot(r) as *mut Ctx;
        if !p.is_null() {
            return Some(&mut *p);
        }
        let ctx = scan(r, |owner| owner == r)?;
        *slot(r) = (ctx as *mut Ctx).cast();
        Some(ctx)
    }
}

/// The context whose decision the variables of `r` show: its own, or for a main request that
/// has none, the latest of an `auth_jwt_rs_verify` subrequest it made (so that the identity
/// established through `auth_request` reads the same in the main request, e.g. after
/// `auth_request_set $user $user`).
pub fn find<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut Ctx> {
    if let Some(c) = own(r) {
        return Some(c);
    }
    // SAFETY: owners are requests of this pool, alive as long as it is.
    unsafe {
        if (*r).main != r {
            return None;
        }
        scan(r, |owner| (*owner).main == r && (*owner).parent == r)
    }
}

/// The newest context in `r`'s pool whose owner satisfies `pick`.
///
/// # Safety
/// `r` must be live; `pick` receives live requests of the same pool.
unsafe fn scan<'a>(
    r: *mut ngx_http_request_t,
    pick: impl Fn(*mut ngx_http_request_t) -> bool,
) -> Option<&'a mut Ctx> {
    unsafe {
        crate::util::find_cleanup::<Ctx>((*r).pool, DROP_CTX, |ctx| pick((*ctx).owner))
            .map(|ctx| &mut *ctx)
    }
}

/// The context of `r`, created empty if there is none; `None` only when out of memory.
pub fn get_or_create<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut Ctx> {
    if let Some(c) = own(r) {
        return Some(c);
    }
    // SAFETY: the cleanup record owns a Ctx-sized block in the request pool.
    unsafe {
        let cln = ngx_pool_cleanup_add((*r).pool, std::mem::size_of::<Ctx>());
        if cln.is_null() {
            return None;
        }
        let ctx = (*cln).data as *mut Ctx;
        ptr::write(
            ctx,
            Ctx {
                owner: r,
                generation: (*r).uri_changes(),
                status: None,
                reason: None,
                verified: None,
                authenticated: None,
                fallback: None,
                key_refetched: false,
                fallback_values: Vec::new(),
            },
        );
        (*cln).handler = Some(DROP_CTX);
        *slot(r) = ctx.cast();
        Some(&mut *ctx)
    }
}
