//! The per-request outcome of the gate, read by the variables.
//!
//! nginx wipes module contexts on internal redirects (`error_page`, `try_files`, named locations)
//! while keeping the request pool, so the context lives in a pool cleanup record: it is found
//! again after a redirect, and its `Drop` runs when the request ends.
//!
//! Accessors hand out `&Ctx` borrowed from the request; every field has interior mutability
//! (`Cell`, or a `RefCell` borrowed only inside one method), so a variable getter that runs in
//! the middle of a decision (`auth_jwt_rs_token $jwt_status;`) never meets a second `&mut`.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;

use auth_jwt_core::outcome::{Decision, JwtReason, JwtStatus};
use auth_jwt_core::verify::Verified;
use ngx::ffi::{ngx_http_request_t, ngx_pool_cleanup_add};
use ngx::http::{HttpModule, Request};

use crate::conf::{Gate, Module};
use crate::util::{find_cleanup, Cleanup};

/// Progress of the `auth_jwt_rs_fallback` subrequest.
#[derive(Clone, Copy)]
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
    /// The request this context belongs to (compared, and read only in `find`).
    owner: *const ngx_http_request_t,
    /// `r->uri_changes` when the decision was made: nginx decrements it on every internal
    /// redirect, so a different value means the request has moved to another location.
    generation: Cell<u32>,
    status: Cell<Option<JwtStatus>>,
    reason: Cell<Option<JwtReason>>,
    verified: RefCell<Option<Rc<Verified>>>,
    /// The authentication outcome and the location (its gate) it was reached for.
    authenticated: Cell<Option<(*const Gate, Decision)>>,
    fallback: Cell<Option<Fallback>>,
    /// An unknown-kid key refetch was already tried for this request.
    key_refetched: Cell<bool>,
    /// `auth_jwt_rs_fallback_set` results: (variable index, value).
    fallback_values: RefCell<Vec<(usize, Vec<u8>)>>,
}

impl Ctx {
    /// Forgets any earlier decision (the gate runs again, e.g. after an internal redirect);
    /// the unknown-kid refetch stays spent for the whole request.
    pub fn reset(&self, r: &Request) {
        self.generation.set(r.as_ref().uri_changes());
        self.clear_outcome();
        self.verified.replace(None);
        self.authenticated.set(None);
        self.fallback.set(None);
        self.fallback_values.borrow_mut().clear();
    }

    pub fn status(&self) -> Option<JwtStatus> {
        self.status.get()
    }

    pub fn reason(&self) -> Option<JwtReason> {
        self.reason.get()
    }

    /// Records the outcome shown by `$jwt_status` and `$jwt_reason`.
    pub fn set_outcome(&self, status: JwtStatus, reason: Option<JwtReason>) {
        self.status.set(Some(status));
        self.reason.set(reason);
    }

    /// Leaves no trace of a decision not made yet.
    pub fn clear_outcome(&self) {
        self.status.set(None);
        self.reason.set(None);
    }

    /// The verified token, if the gate accepted one.
    pub fn verified(&self) -> Option<Rc<Verified>> {
        self.verified.borrow().clone()
    }

    pub fn set_verified(&self, v: Rc<Verified>) {
        self.verified.replace(Some(v));
    }

    pub fn authenticated(&self) -> Option<(*const Gate, Decision)> {
        self.authenticated.get()
    }

    pub fn set_authenticated(&self, gate: &Gate, d: Decision) {
        self.authenticated.set(Some((gate, d)));
    }

    pub fn fallback(&self) -> Option<Fallback> {
        self.fallback.get()
    }

    pub fn set_fallback(&self, f: Fallback) {
        self.fallback.set(Some(f));
    }

    pub fn key_refetched(&self) -> bool {
        self.key_refetched.get()
    }

    pub fn set_key_refetched(&self) {
        self.key_refetched.set(true);
    }

    pub fn set_fallback_values(&self, values: Vec<(usize, Vec<u8>)>) {
        self.fallback_values.replace(values);
    }

    /// Whether the fallback subrequest, not a JWT, decided this request.
    pub fn by_fallback(&self) -> bool {
        self.status.get().is_some_and(JwtStatus::by_fallback)
    }

    /// `f` applied to the `auth_jwt_rs_fallback_set` value of variable `index`, if the
    /// fallback set it.
    pub fn with_fallback_value<T>(&self, index: usize, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
        let values = self.fallback_values.borrow();
        values.iter().find(|(i, _)| *i == index).map(|(_, v)| f(v))
    }
}

/// The one pointer value written into, and compared with, pool cleanup records.
static DROP_CTX: Cleanup = drop_ctx;

unsafe extern "C" fn drop_ctx(data: *mut c_void) {
    // SAFETY: data is the Ctx written by `get_or_create`, dropped once with the pool.
    unsafe { ptr::drop_in_place(data.cast::<Ctx>()) }
}

/// The context of `r` if its decision was made in the current location, i.e. not before an
/// internal redirect (decisions are per location; variables keep the last one).
pub fn current(r: &Request) -> Option<&Ctx> {
    let generation = r.as_ref().uri_changes();
    own(r).filter(|c| c.generation.get() == generation && c.status.get().is_some())
}

/// The context `r` itself owns (also after an internal redirect wiped its module context).
pub fn own(r: &Request) -> Option<&Ctx> {
    let module = Module::module();
    if let Some(c) = r.get_module_ctx::<Ctx>(module) {
        return Some(c);
    }
    let me: *const ngx_http_request_t = r.into();
    let ctx = scan(r, |owner| owner == me)?;
    r.set_module_ctx(ptr::from_ref(ctx).cast_mut().cast(), module);
    Some(ctx)
}

/// The context whose decision the variables of `r` show: its own, or for a main request that
/// has none, the latest of an `auth_jwt_rs_verify` subrequest it made (so that the identity
/// established through `auth_request` reads the same in the main request, e.g. after
/// `auth_request_set $user $user`).
pub fn find(r: &Request) -> Option<&Ctx> {
    if let Some(c) = own(r) {
        return Some(c);
    }
    if !r.is_main() {
        return None;
    }
    let me: *const ngx_http_request_t = r.into();
    scan(r, |owner| {
        // SAFETY: owners are requests of this pool (subrequests share it), alive as long as
        // the pool is.
        unsafe { ptr::eq((*owner).main, me) && ptr::eq((*owner).parent, me) }
    })
}

/// The newest context in `r`'s pool whose owner satisfies `pick`.
fn scan(r: &Request, pick: impl Fn(*const ngx_http_request_t) -> bool) -> Option<&Ctx> {
    // SAFETY: the pool is live; records with DROP_CTX hold a Ctx, which lives (and is only
    // dropped) with the pool, so a shared borrow tied to `r` is valid.
    unsafe { find_cleanup::<Ctx>(r.as_ref().pool, DROP_CTX, |ctx| pick((*ctx).owner)).map(|c| &*c) }
}

/// The context of `r`, created empty if there is none; `None` only when out of memory.
pub fn get_or_create(r: &Request) -> Option<&Ctx> {
    if let Some(c) = own(r) {
        return Some(c);
    }
    let ctx = Ctx {
        owner: r.into(),
        generation: Cell::new(r.as_ref().uri_changes()),
        status: Cell::new(None),
        reason: Cell::new(None),
        verified: RefCell::new(None),
        authenticated: Cell::new(None),
        fallback: Cell::new(None),
        key_refetched: Cell::new(false),
        fallback_values: RefCell::new(Vec::new()),
    };
    // SAFETY: the cleanup record owns a Ctx-sized block in the request pool; its handler drops
    // the Ctx with the pool, and nothing else frees it.
    let p = unsafe {
        let cln = ngx_pool_cleanup_add(r.as_ref().pool, std::mem::size_of::<Ctx>());
        if cln.is_null() {
            return None;
        }
        let p = (*cln).data as *mut Ctx;
        ptr::write(p, ctx);
        (*cln).handler = Some(DROP_CTX);
        &*p
    };
    r.set_module_ctx(ptr::from_ref(p).cast_mut().cast(), Module::module());
    Some(p)
}
