//! Keys from `auth_jwt_rs_key_request` (SPEC §2): a JWKS obtained by an in-memory subrequest,
//! so nginx's own proxy, TLS, resolver and cache do the transport.
//!
//! State is per worker process: one [`Remote`] per URI, shared by every location that names
//! it. A fetch in flight is shared too: other requests that need the keys wait for it (their
//! write event is posted when it ends) instead of asking the identity provider again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use auth_jwt_core::keys::{parse_jwks, Key, KeySet};
use ngx::ffi::{
    ngx_event_t, ngx_http_post_subrequest_t, ngx_http_request_body_t, ngx_http_request_t,
    ngx_http_run_posted_requests, ngx_http_subrequest, ngx_int_t, ngx_pcalloc,
    ngx_pool_cleanup_add, ngx_str_t, ngx_uint_t, NGX_HTTP_CLIENT_CLOSED_REQUEST,
    NGX_HTTP_SUBREQUEST_IN_MEMORY, NGX_HTTP_SUBREQUEST_WAITED, NGX_LOG_INFO, NGX_LOG_WARN, NGX_OK,
};

use crate::util::{self, bytes};

/// Largest JWKS document accepted (the subrequest's buffer is bounded by nginx's
/// `subrequest_output_buffer_size` in the key location as well).
pub const MAX_JWKS_LEN: usize = 1024 * 1024;
/// Unknown-kid refetches happen at most this often per URI (SPEC §2).
pub const REFETCH_INTERVAL: u64 = 30;
/// After a failed fetch, the URI is not asked again for this long.
pub const RETRY_AFTER_FAILURE: u64 = 5;

/// One `auth_jwt_rs_key_request` URI and what this worker knows about it.
pub struct Remote {
    pub uri: ngx_str_t,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    generation: u64,
    fetched_at: u64,
    retry_at: u64,
    last_refetch: Option<u64>,
    in_flight: bool,
    waiters: Vec<*mut ngx_event_t>,
}

thread_local! {
    /// Remotes of the configuration being parsed, by URI (reset for every new cycle).
    static REGISTRY: RefCell<HashMap<Vec<u8>, Rc<Remote>>> = RefCell::new(HashMap::new());
}

/// Forgets the remotes of an earlier configuration (called in preconfiguration).
pub fn reset_registry() {
    REGISTRY.with(|r| r.borrow_mut().clear());
}

/// The remote for `uri`, shared by every location of this configuration that names it.
pub fn remote(uri: ngx_str_t) -> Rc<Remote> {
    REGISTRY.with(|r| {
        r.borrow_mut()
            .entry(bytes(&uri).to_vec())
            .or_insert_with(|| {
                Rc::new(Remote {
                    uri,
                    state: RefCell::default(),
                })
            })
            .clone()
    })
}

impl Remote {
    /// Ends a fetch that was cut short without an answer: no pause, the waiters retry.
    fn abandon(&self) {
        let waiters = {
            let mut st = self.state.borrow_mut();
            st.in_flight = false;
            std::mem::take(&mut st.waiters)
        };
        wake_all(waiters);
    }

    fn uri_str(&self) -> String {
        String::from_utf8_lossy(bytes(&self.uri)).into_owned()
    }

    /// Records the end of a fetch and wakes the requests that waited for it.
    fn finish(&self, keys: Option<Arc<KeySet>>, now: u64) {
        let waiters = {
            let mut st = self.state.borrow_mut();
            st.in_flight = false;
            match keys {
                Some(k) => {
                    st.keys = Some(k);
                    st.generation += 1;
                    st.fetched_at = now;
                }
                None => st.retry_at = now + RETRY_AFTER_FAILURE,
            }
            std::mem::take(&mut st.waiters)
        };
        wake_all(waiters);
    }
}

fn wake_all(waiters: Vec<*mut ngx_event_t>) {
    for ev in waiters {
        // SAFETY: waiter events live in their requests' pools; a request that ends first
        // removes its event from the list in its pool cleanup.
        unsafe { ngx::ffi::ngx_post_event(ev, ptr::addr_of_mut!(ngx::ffi::ngx_posted_events)) };
    }
}

/// The key sources of a location: key files and secrets, plus key requests.
pub struct KeySource {
    pub static_keys: Arc<KeySet>,
    pub remotes: Vec<Rc<Remote>>,
    /// `auth_jwt_rs_key_cache`, seconds.
    pub ttl: u64,
    merged: RefCell<Option<(u64, Arc<KeySet>)>>,
}

/// Result of asking a [`KeySource`] for keys.
pub enum Keys {
    Ready(Arc<KeySet>),
    /// A fetch is in flight; the request is resumed when it ends.
    Wait,
    /// No key at all could be obtained.
    Unavailable,
}

impl KeySource {
    pub fn new(static_keys: Arc<KeySet>, remotes: Vec<Rc<Remote>>, ttl: u64) -> KeySource {
        KeySource {
            static_keys,
            remotes,
            ttl,
            merged: RefCell::new(None),
        }
    }

    /// Whether keys can exist at all (some file key, or a key request).
    pub fn is_configured(&self) -> bool {
        !self.static_keys.is_empty() || !self.remotes.is_empty()
    }

    /// The keys for a request. With `r`, missing or expired keys are fetched (the request
    /// waits); `refetch` asks for an early refetch after an unknown `kid` (rate-limited).
    /// Without `r` (a variable read before the access phase) nothing is fetched.
    pub fn keys(&self, r: Option<*mut ngx_http_request_t>, now: u64, refetch: bool) -> Keys {
        for remote in &self.remotes {
            let mut st = remote.state.borrow_mut();
            let fresh = st.keys.is_some() && now < st.fetched_at.saturating_add(self.ttl);
            let early = refetch
                && st.keys.is_some()
                && st.last_refetch.is_none_or(|t| now >= t + REFETCH_INTERVAL);
            if (fresh && !early) || now < st.retry_at {
                continue;
            }
            let Some(r) = r else {
                if st.keys.is_none() {
                    return Keys::Wait;
                }
                continue;
            };
            if early {
                st.last_refetch = Some(now);
            }
            if st.in_flight {
                drop(st);
                return match wait_for(r, remote) {
                    Some(()) => Keys::Wait,
                    None => Keys::Unavailable,
                };
            }
            drop(st);
            if start_fetch(r, remote).is_some() {
                remote.state.borrow_mut().in_flight = true;
                return Keys::Wait;
            }
            let log = util::request_log(r);
            util::log(
                log,
                NGX_LOG_WARN as ngx_uint_t,
                &format!(
                    "auth_jwt_rs: cannot start key request \"{}\"",
                    remote.uri_str()
                ),
            );
        }
        let merged = self.merged();
        if merged.is_empty() {
            Keys::Unavailable
        } else {
            Keys::Ready(merged)
        }
    }

    /// File keys plus the current keys of every remote, rebuilt only when a remote changed.
    fn merged(&self) -> Arc<KeySet> {
        if self.remotes.is_empty() {
            return self.static_keys.clone();
        }
        let mut h = std::hash::DefaultHasher::new();
        for r in &self.remotes {
            (Rc::as_ptr(r) as usize, r.state.borrow().generation).hash(&mut h);
        }
        let stamp = h.finish();
        if let Some((s, k)) = &*self.merged.borrow() {
            if *s == stamp {
                return k.clone();
            }
        }
        let mut keys: Vec<Key> = self.static_keys.keys().to_vec();
        for r in &self.remotes {
            if let Some(k) = &r.state.borrow().keys {
                keys.extend(k.keys().iter().cloned());
            }
        }
        let set = Arc::new(KeySet::new(keys));
        *self.merged.borrow_mut() = Some((stamp, set.clone()));
        set
    }
}

// ---------------------------------------------------------------------------------------------
// Fetching

/// The post-subrequest data of a fetch; its pool cleanup releases the URI if the request dies
/// before the fetch ends.
struct FetchJob {
    remote: Rc<Remote>,
    done: bool,
}

unsafe extern "C" fn drop_fetch_job(data: *mut c_void) {
    // SAFETY: data is the FetchJob written by `start_fetch`, dropped once with the pool.
    unsafe {
        let job = &mut *(data as *mut FetchJob);
        if !job.done {
            // The fetching request ended first: let a waiting request try again.
            job.remote.abandon();
        }
        ptr::drop_in_place(job);
    }
}

fn start_fetch(r: *mut ngx_http_request_t, remote: &Rc<Remote>) -> Option<()> {
    // SAFETY: r is live; everything is allocated in its pool.
    unsafe {
        let pool = (*r).pool;
        let cln = ngx_pool_cleanup_add(pool, std::mem::size_of::<FetchJob>());
        if cln.is_null() {
            return None;
        }
        let job = (*cln).data as *mut FetchJob;
        ptr::write(
            job,
            FetchJob {
                remote: remote.clone(),
                done: true,
            },
        );
        (*cln).handler = Some(drop_fetch_job);

        let ps = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_post_subrequest_t>())
            as *mut ngx_http_post_subrequest_t;
        if ps.is_null() {
            return None;
        }
        (*ps).handler = Some(fetch_done);
        (*ps).data = job.cast();

        let mut uri = remote.uri;
        let mut sr: *mut ngx_http_request_t = ptr::null_mut();
        let flags = NGX_HTTP_SUBREQUEST_IN_MEMORY | NGX_HTTP_SUBREQUEST_WAITED;
        let rc = ngx_http_subrequest(
            r,
            &mut uri,
            ptr::null_mut(),
            &mut sr,
            ps,
            flags as ngx_uint_t,
        );
        if rc != NGX_OK as ngx_int_t || sr.is_null() {
            return None;
        }
        // Never pass the client's request body to the identity provider.
        let body = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        if body.is_null() {
            return None;
        }
        (*sr).request_body = body;
        // ... nor its Content-Length (proxy_pass would announce a body that never comes).
        (*sr).headers_in.content_length_n = -1;
        (*sr).headers_in.content_length = ptr::null_mut();
        (*sr).headers_in.transfer_encoding = ptr::null_mut();
        (*sr).headers_in.set_chunked(0);
        (*job).done = false;
    }
    Some(())
}

unsafe extern "C" fn fetch_done(
    sr: *mut ngx_http_request_t,
    data: *mut c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    let log = util::request_log(sr);
    util::guard(log, rc, || {
        // SAFETY: data is the FetchJob in the shared request pool.
        let job = unsafe { &mut *(data as *mut FetchJob) };
        if job.done {
            return rc;
        }
        job.done = true;
        let remote = job.remote.clone();
        let now = crate::gate::now();
        // The fetching request's client went away and nginx cut the fetch short: nothing is
        // known about the identity provider, so no pause; a waiting request fetches again.
        let status = unsafe { (*sr).headers_out.status };
        if status == 0 || status == NGX_HTTP_CLIENT_CLOSED_REQUEST as usize {
            util::log(
                log,
                NGX_LOG_INFO as ngx_uint_t,
                &format!(
                    "auth_jwt_rs: key request \"{}\" abandoned",
                    remote.uri_str()
                ),
            );
            remote.abandon();
            return rc;
        }
        match unsafe { fetched_keys(sr, rc) } {
            Ok((keys, warnings)) => {
                for w in warnings {
                    util::log(
                        log,
                        NGX_LOG_WARN as ngx_uint_t,
                        &format!("auth_jwt_rs: key request \"{}\": {w}", remote.uri_str()),
                    );
                }
                crate::metrics::key_fetch(true);
                remote.finish(Some(Arc::new(keys)), now);
            }
            Err(why) => {
                let kept = remote
                    .state
                    .borrow()
                    .keys
                    .as_ref()
                    .map_or(0, |k| k.keys().len());
                util::log(
                    log,
                    NGX_LOG_WARN as ngx_uint_t,
                    &format!(
                        "auth_jwt_rs: key request \"{}\" failed: {why}; {}",
                        remote.uri_str(),
                        if kept > 0 {
                            format!("keeping the {kept} keys fetched before")
                        } else {
                            "no keys available".to_string()
                        }
                    ),
                );
                crate::metrics::key_fetch(false);
                remote.finish(None, now);
            }
        }
        rc
    })
}

/// The keys in a finished key subrequest's response, or why there are none.
///
/// # Safety
/// `sr` must be the finished in-memory subrequest.
unsafe fn fetched_keys(
    sr: *mut ngx_http_request_t,
    rc: ngx_int_t,
) -> Result<(KeySet, Vec<String>), String> {
    unsafe {
        let status = (*sr).headers_out.status;
        if rc != NGX_OK as ngx_int_t && status == 200 {
            return Err("response not received completely (too large for \
                        subrequest_output_buffer_size?)"
                .into());
        }
        if status != 200 {
            return Err(format!("status {status}"));
        }
        let ce = (*sr).headers_out.content_encoding;
        if !ce.is_null() && (*ce).hash != 0 && !bytes(&(*ce).value).is_empty() {
            return Err("compressed response (clear Accept-Encoding in the key location)".into());
        }
        let body = if (*sr).out.is_null() || (*(*sr).out).buf.is_null() {
            &[][..]
        } else {
            let b = (*(*sr).out).buf;
            let len = (*b).last.offset_from((*b).pos).max(0) as usize;
            if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts((*b).pos, len)
            }
        };
        if body.len() > MAX_JWKS_LEN {
            return Err(format!("response of {} bytes is too large", body.len()));
        }
        let announced = (*sr).headers_out.content_length_n;
        if announced > 0 && (body.len() as i64) < announced {
            return Err(format!(
                "response of {announced} bytes is larger than subrequest_output_buffer_size \
                 of the key location"
            ));
        }
        if body.is_empty() {
            return Err("empty response".into());
        }
        let loaded = parse_jwks(body).map_err(|e| format!("not a usable JWKS: {e}"))?;
        Ok((KeySet::new(loaded.keys), loaded.warnings))
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting for a fetch started by another request

struct Waiter {
    remote: Rc<Remote>,
    ev: ngx_event_t,
}

unsafe extern "C" fn drop_waiter(data: *mut c_void) {
    // SAFETY: data is the Waiter written by `wait_for`, dropped once with the pool.
    unsafe {
        let w = &mut *(data as *mut Waiter);
        let ev: *mut ngx_event_t = &mut w.ev;
        w.remote.state.borrow_mut().waiters.retain(|&e| e != ev);
        if (*ev).posted() != 0 {
            ngx::ffi::ngx_delete_posted_event(ev);
        }
        ptr::drop_in_place(w);
    }
}

/// Resumes a waiting request the way nginx resumes one whose subrequest ended.
unsafe extern "C" fn wake(ev: *mut ngx_event_t) {
    // SAFETY: ev.data is the waiting request, alive (its cleanup would have unposted us).
    unsafe {
        let r = (*ev).data as *mut ngx_http_request_t;
        let c = (*r).connection;
        if let Some(h) = (*r).write_event_handler {
            h(r);
        }
        ngx_http_run_posted_requests(c);
    }
}

fn wait_for(r: *mut ngx_http_request_t, remote: &Rc<Remote>) -> Option<()> {
    // SAFETY: r is live; the waiter lives in its pool and unregisters itself there.
    unsafe {
        let cln = ngx_pool_cleanup_add((*r).pool, std::mem::size_of::<Waiter>());
        if cln.is_null() {
            return None;
        }
        let w = (*cln).data as *mut Waiter;
        ptr::write(
            w,
            Waiter {
                remote: remote.clone(),
                ev: std::mem::zeroed(),
            },
        );
        (*cln).handler = Some(drop_waiter);
        let ev: *mut ngx_event_t = &mut (*w).ev;
        (*ev).data = r.cast();
        (*ev).handler = Some(wake);
        (*ev).log = (*(*r).connection).log;
        remote.state.borrow_mut().waiters.push(ev);
    }
    Some(())
}
