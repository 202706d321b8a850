//! Keys from `auth_jwt_rs_key_request` (README "Keys from an identity provider"): a JWKS
//! fetched by a background subrequest, so nginx's own proxy, TLS, resolver and timeouts do the
//! transport.
//!
//! - The subrequest is clean: `GET`, no body, none of the client's headers or variables; the
//!   key location's `proxy_set_header` adds what the IdP needs.
//! - Its body never goes to nginx's in-memory subrequest buffer: [`body_filter`] collects it
//!   (up to [`MAX_JWKS_LEN`]) whatever `subrequest_output_buffer_size` says.
//! - Every outcome ends the fetch once, in [`fetch_done`], which never lets nginx terminate the
//!   client's request because of the IdP: a failure is logged once, counted once, and the next
//!   attempt for the URI waits 5 s, doubling up to 60 s.
//! - The last good document of each URI and the fetch state live in [`crate::keyzone`], so one
//!   fetch serves every worker and keys survive reloads; each worker parses a document once per
//!   generation.
//! - Requests that need keys that are not there yet wait (at most [`MAX_WAIT_MS`]) on a
//!   [`Waiter`]; once keys are known, stale keys are refreshed in the background and no
//!   request waits, except a token with an unknown `kid` (its one early refetch).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use auth_jwt_core::keys::{parse_jwks, Key, KeySet};
use ngx::ffi::{
    ngx_buf_t, ngx_chain_t, ngx_event_t, ngx_http_core_main_conf_t, ngx_http_core_module,
    ngx_http_output_body_filter_pt, ngx_http_post_subrequest_t, ngx_http_request_body_t,
    ngx_http_request_t, ngx_http_run_posted_requests, ngx_http_subrequest,
    ngx_http_top_body_filter, ngx_http_variable_value_t, ngx_int_t, ngx_list_init, ngx_pcalloc,
    ngx_pid, ngx_pool_cleanup_add, ngx_read_file, ngx_str_t, ngx_table_elt_t, ngx_uint_t,
    NGX_ERROR, NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_REQUEST_TIME_OUT,
    NGX_HTTP_SUBREQUEST_BACKGROUND, NGX_OK,
};

use crate::keyzone::{FetchState, KeyZone, Slot};
use auth_jwt_core::fetch::{backoff, FetchCause};
use ngx::http::Request;

use crate::log::{log_info, log_warn};
use crate::metrics;
use crate::util::{self, bytes, now, now_ms, shared_request, Cleanup};

/// Largest JWKS document accepted.
pub const MAX_JWKS_LEN: usize = 1024 * 1024;
/// Unknown-kid refetches happen at most this often per URI.
pub const REFETCH_INTERVAL: u64 = 30;
/// Longest time a request waits for keys before it is answered with what is there.
pub const MAX_WAIT_MS: u64 = 10_000;
/// How often a worker looks whether another worker's fetch has ended.
const POLL_MS: u64 = 100;
/// A fetch lease older than this is void (its worker hung or died without a trace).
const LEASE_MAX: u64 = 120;

/// The remotes of one configuration, by URI: every location naming a URI shares its state.
#[derive(Default)]
pub struct Registry {
    remotes: HashMap<Vec<u8>, Rc<Remote>>,
}

impl Registry {
    /// The remote for `uri`.
    pub fn remote(&mut self, uri: ngx_str_t) -> Rc<Remote> {
        self.remotes
            .entry(bytes(&uri).to_vec())
            .or_insert_with(|| Rc::new(Remote::new(uri)))
            .clone()
    }

    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
    }

    /// Binds every remote to the configuration's key zone.
    pub fn set_zone(&self, zone: KeyZone) {
        for r in self.remotes.values() {
            r.zone.set(Some(zone));
        }
    }
}

/// The key set a worker uses for a URI.
struct InUse {
    fetched_at: u64,
    cycle: u64,
    keys: Arc<KeySet>,
}

/// One `auth_jwt_rs_key_request` URI, as seen by this worker.
pub struct Remote {
    pub uri: ngx_str_t,
    zone: Cell<Option<KeyZone>>,
    /// The URI's slot in the zone, once looked up (`None` inside: the zone is full).
    slot: Cell<Option<Option<*mut Slot>>>,
    /// The fetch state when there is no slot (this worker only).
    local: RefCell<FetchState>,
    keys: RefCell<Option<InUse>>,
    /// Generation of the zone's document last parsed here.
    seen_gen: Cell<u64>,
    /// Bumped for every key set this worker starts using (identifies merged sets).
    version: Cell<u64>,
    /// This worker has a fetch of the URI in flight.
    fetching: Cell<bool>,
    waiters: RefCell<Vec<*mut Waiter>>,
    /// Polls the zone while requests wait for another worker's fetch.
    tick: Box<UnsafeCell<ngx_event_t>>,
}

/// What [`Remote::begin`] allows.
enum Begin {
    /// This worker now holds the lease and must fetch.
    Go,
    /// A fetch is in flight (here or in another worker).
    Busy,
    /// Backing off after failures, or no refetch budget left.
    No,
}

impl Remote {
    fn new(uri: ngx_str_t) -> Remote {
        Remote {
            uri,
            zone: Cell::new(None),
            slot: Cell::new(None),
            local: RefCell::default(),
            keys: RefCell::new(None),
            seen_gen: Cell::new(0),
            version: Cell::new(0),
            fetching: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            // SAFETY: an all-zero ngx_event_t is nginx's own initial state (pcalloc).
            tick: Box::new(UnsafeCell::new(unsafe { std::mem::zeroed() })),
        }
    }

    fn uri_str(&self) -> String {
        String::from_utf8_lossy(bytes(&self.uri)).into_owned()
    }

    fn slot(&self) -> Option<(KeyZone, *mut Slot)> {
        let zone = self.zone.get()?;
        let slot = match self.slot.get() {
            Some(s) => s,
            None => {
                let s = zone.slot(bytes(&self.uri));
                if s.is_none() {
                    log_warn!(
                        ngx::log::ngx_cycle_log().as_ptr(),
                        "auth_jwt_rs: auth_jwt_rs_key_zone is full, keys of \"{}\" are kept by \
                         each worker",
                        self.uri_str()
                    );
                }
                self.slot.set(Some(s));
                s
            }
        };
        slot.map(|s| (zone, s))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut FetchState) -> T) -> T {
        match self.slot() {
            Some((zone, slot)) => zone.with_state(slot, f),
            None => f(&mut self.local.borrow_mut()),
        }
    }

    fn cycle(&self) -> u64 {
        self.zone.get().map_or(0, |z| z.cycle())
    }

    /// Picks up a key set that another worker (or an earlier cycle) stored in the zone.
    fn sync(&self) {
        let Some((zone, slot)) = self.slot() else {
            return;
        };
        let gen = KeyZone::generation(slot);
        if gen == self.seen_gen.get() {
            return;
        }
        self.seen_gen.set(gen);
        let Some((gen, doc, st)) = zone.read(slot) else {
            return;
        };
        self.seen_gen.set(gen);
        // The document was validated by the worker that stored it; warnings were logged there.
        if let Ok(loaded) = parse_jwks(&doc) {
            self.use_keys(KeySet::new(loaded.keys), st.fetched_at, st.fetched_cycle);
        }
    }

    fn use_keys(&self, keys: KeySet, fetched_at: u64, cycle: u64) {
        *self.keys.borrow_mut() = Some(InUse {
            fetched_at,
            cycle,
            keys: Arc::new(keys),
        });
        self.version.set(self.version.get() + 1);
    }

    fn has_keys(&self) -> bool {
        self.keys.borrow().is_some()
    }

    fn is_stale(&self, now: u64, ttl: u64) -> bool {
        match &*self.keys.borrow() {
            None => true,
            Some(k) => {
                now >= k.fetched_at.saturating_add(ttl)
                    || (self.zone.get().is_some() && k.cycle != self.cycle())
            }
        }
    }

    /// Whether a fetch may start now; takes the lease if so. `refetch`: an early refetch for
    /// an unknown kid (rate-limited per URI).
    fn begin(&self, now: u64, refetch: bool) -> Begin {
        let fetching_here = self.fetching.get();
        self.with_state(|st| {
            if lease_held(st, now, fetching_here) {
                return Begin::Busy;
            }
            if now < st.retry_at {
                return Begin::No;
            }
            if refetch {
                if st.last_refetch != 0 && now < st.last_refetch + REFETCH_INTERVAL {
                    return Begin::No;
                }
                st.last_refetch = now;
            }
            // SAFETY: ngx_pid is set once at process start.
            st.lease_pid = unsafe { ngx_pid } as i64;
            st.lease_since = now;
            Begin::Go
        })
    }

    /// Whether another worker is fetching the URI now.
    fn fetching_elsewhere(&self, now: u64) -> bool {
        if self.fetching.get() {
            return false;
        }
        self.with_state(|st| lease_held(st, now, false))
    }

    /// Ends this worker's fetch: `Ok(doc, keys)` or the cause of the failure. Returns what to
    /// say in the log about the keys still in use after a failure.
    fn end(&self, now: u64, outcome: Result<(&[u8], KeySet), FetchCause>) -> Option<String> {
        self.fetching.set(false);
        let cycle = self.cycle();
        let report = match outcome {
            Ok((doc, keys)) => {
                let update = |st: &mut FetchState| {
                    st.lease_pid = 0;
                    st.ended += 1;
                    st.failures = 0;
                    st.retry_at = 0;
                    st.fetched_at = now;
                    st.fetched_cycle = cycle;
                };
                match self.slot() {
                    Some((zone, slot)) => match zone.store(slot, doc, update) {
                        Some(gen) => self.seen_gen.set(gen),
                        None => log_warn!(
                            ngx::log::ngx_cycle_log().as_ptr(),
                            "auth_jwt_rs: auth_jwt_rs_key_zone has no room for the {} bytes of \
                             keys of \"{}\", they are kept by this worker only",
                            doc.len(),
                            self.uri_str()
                        ),
                    },
                    None => update(&mut self.local.borrow_mut()),
                }
                self.use_keys(keys, now, cycle);
                None
            }
            Err(_) => {
                let delay = self.with_state(|st| {
                    st.lease_pid = 0;
                    st.ended += 1;
                    st.failures = st.failures.saturating_add(1);
                    let delay = backoff(st.failures);
                    st.retry_at = now + delay;
                    delay
                });
                let kept = match &*self.keys.borrow() {
                    Some(k) => format!(
                        "keeping the {} keys fetched {} s ago",
                        k.keys.keys().len(),
                        now.saturating_sub(k.fetched_at)
                    ),
                    None => "no keys available".to_string(),
                };
                Some(format!("{kept}, next attempt in {delay} s"))
            }
        };
        self.wake_all();
        report
    }

    /// Ends a fetch cut short by the client going away: nothing is known about the IdP, so
    /// there is no pause; a waiting request may start one new fetch.
    fn abandon(&self) {
        self.fetching.set(false);
        // SAFETY: ngx_pid is set once at process start.
        let me = unsafe { ngx_pid } as i64;
        self.with_state(|st| {
            if st.lease_pid == me {
                st.lease_pid = 0;
                st.ended += 1;
            }
        });
        self.wake_all();
    }

    fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            // SAFETY: a waiter removes itself from every list before its pool goes.
            unsafe { post(&mut (*w).ev) };
        }
    }

    /// Starts polling the zone for the end of another worker's fetch.
    fn arm_tick(self: &Rc<Self>) {
        let ev = self.tick.get();
        // SAFETY: the event lives in the Remote, which lives as long as the configuration;
        // Drop removes the timer.
        unsafe {
            if (*ev).timer_set() != 0 {
                return;
            }
            (*ev).handler = Some(tick);
            (*ev).data = Rc::as_ptr(self) as *mut c_void;
            (*ev).log = ngx::log::ngx_cycle_log().as_ptr();
            (*ev).set_cancelable(1);
            ngx::ffi::ngx_add_timer(ev, POLL_MS as ngx::ffi::ngx_msec_t);
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let ev = self.tick.get();
        // SAFETY: the timer, if any, points at this Remote's event.
        unsafe {
            if (*ev).timer_set() != 0 {
                ngx::ffi::ngx_del_timer(ev);
            }
        }
    }
}

/// Whether a live fetch holds the lease (`fetching_here`: this worker's own fetch is in
/// flight, so a lease with our pid is real and not left over from a lost fetch).
fn lease_held(st: &FetchState, now: u64, fetching_here: bool) -> bool {
    if st.lease_pid == 0 || now >= st.lease_since.saturating_add(LEASE_MAX) {
        return false;
    }
    // SAFETY: ngx_pid is set once at process start.
    if st.lease_pid == unsafe { ngx_pid } as i64 {
        return fetching_here;
    }
    process_alive(st.lease_pid)
}

fn process_alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { ngx::ffi::kill(pid as ngx::ffi::pid_t, 0) };
    rc == 0 || ngx::ffi::ngx_errno() != ngx::ffi::ESRCH as i32
}

unsafe extern "C" fn tick(ev: *mut ngx_event_t) {
    // SAFETY: data is the Remote that armed the timer (it deletes the timer when dropped).
    let remote = unsafe { &*((*ev).data as *const Remote) };
    let log = unsafe { (*ev).log };
    util::guard(log, (), || {
        if remote.waiters.borrow().is_empty() {
            return;
        }
        let now = now();
        if remote.fetching_elsewhere(now) {
            // SAFETY: see above.
            unsafe { ngx::ffi::ngx_add_timer(ev, POLL_MS as ngx::ffi::ngx_msec_t) };
        } else {
            remote.wake_all();
        }
    })
}

unsafe fn post(ev: *mut ngx_event_t) {
    // SAFETY: the caller guarantees the event is alive.
    unsafe { ngx::ffi::ngx_post_event(ev, ptr::addr_of_mut!(ngx::ffi::ngx_posted_events)) };
}

/// The key sources of a location: key files and secrets, plus key requests.
pub struct KeySource {
    pub static_keys: Arc<KeySet>,
    pub remotes: Vec<Rc<Remote>>,
    /// `auth_jwt_rs_key_cache`, seconds.
    pub ttl: u64,
    merged: RefCell<Option<(Vec<u64>, Arc<KeySet>)>>,
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

    /// The keys for a request. With `r`, missing keys are fetched (the request waits, at most
    /// [`MAX_WAIT_MS`]) and stale ones refreshed in the background; `refetch` asks for an
    /// early refetch after an unknown `kid` (rate-limited per URI; the request waits for it).
    /// Without `r` (a variable read before the access phase) nothing is fetched, and `Wait`
    /// means "not decided yet".
    pub fn keys(&self, r: Option<&Request>, now: u64, refetch: bool) -> Keys {
        // A waiter keeps its request by pointer: it resumes it from an event, after the
        // handler that asked for keys has returned (the raw edge of this module).
        let r = r.map(|r| ptr::from_ref(r.as_ref()).cast_mut());
        // The request's waiter, looked up once (created only when the request first waits).
        let mut waiter = r
            .filter(|_| !self.remotes.is_empty())
            .and_then(Waiter::find);
        // Resumed by some other event (nginx runs the phases again when the client's
        // connection becomes writable, for example) while still waiting: keep waiting.
        // SAFETY: waiters live in the request's pool.
        if waiter.is_some_and(|w| unsafe { !(*w).waiting_on.is_empty() }) {
            return Keys::Wait;
        }
        let mut wait = false;
        for remote in &self.remotes {
            remote.sync();
            let have = remote.has_keys();
            let need_now = !have || refetch;
            if !need_now && !remote.is_stale(now, self.ttl) {
                continue;
            }
            let Some(r) = r else {
                wait |= !have;
                continue;
            };
            if need_wait(r, &mut waiter, remote, now, need_now, refetch && have) {
                wait = true;
            }
        }
        if wait {
            return Keys::Wait;
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
        let stamp: Vec<u64> = self.remotes.iter().map(|r| r.version.get()).collect();
        if let Some((s, k)) = &*self.merged.borrow() {
            if *s == stamp {
                return k.clone();
            }
        }
        let mut keys: Vec<Key> = self.static_keys.keys().to_vec();
        for r in &self.remotes {
            if let Some(k) = &*r.keys.borrow() {
                keys.extend(k.keys.keys().iter().cloned());
            }
        }
        let set = Arc::new(KeySet::new(keys));
        *self.merged.borrow_mut() = Some((stamp, set.clone()));
        set
    }
}

/// Starts a fetch of `remote` if one is due and allowed, and registers `r` as a waiter when
/// it needs the result (`need_now`) and may still wait. Returns whether `r` waits. `waiter`
/// is the request's waiter, if it has one yet (created here when needed).
fn need_wait(
    r: *mut ngx_http_request_t,
    waiter: &mut Option<*mut Waiter>,
    remote: &Rc<Remote>,
    now: u64,
    need_now: bool,
    refetch: bool,
) -> bool {
    // SAFETY: waiters live in the request's pool.
    let may_wait = need_now && waiter.is_none_or(|w| unsafe { (*w).may_wait() });
    let started_here = waiter.is_some_and(|w| unsafe { (*w).started(remote) });
    let begin = if started_here {
        // One fetch per request and URI, so that nothing can loop: only wait for one that
        // is in flight.
        if remote.fetching.get() || remote.fetching_elsewhere(now) {
            Begin::Busy
        } else {
            Begin::No
        }
    } else {
        remote.begin(now, refetch)
    };
    let busy = match begin {
        Begin::Go => match start_fetch(r, remote) {
            Ok(()) => {
                if let Some(w) = Waiter::get_or_create(r, waiter) {
                    // SAFETY: as above.
                    unsafe { (*w).started.push(Rc::as_ptr(remote)) };
                }
                true
            }
            Err(()) => {
                let msg = remote.end(now, Err(FetchCause::Connect));
                metrics::key_fetch_failed(FetchCause::Connect);
                log_warn!(
                    // SAFETY: r is the live request asking for keys.
                    unsafe { shared_request(r) },
                    "auth_jwt_rs: key request \"{}\" failed (connect): cannot start the \
                     subrequest; {}",
                    remote.uri_str(),
                    msg.unwrap_or_default()
                );
                false
            }
        },
        Begin::Busy => true,
        Begin::No => false,
    };
    if !(busy && may_wait) {
        return false;
    }
    let Some(w) = Waiter::get_or_create(r, waiter) else {
        return false;
    };
    // SAFETY: as above.
    unsafe { (*w).register(remote) };
    if remote.fetching_elsewhere(now) {
        remote.arm_tick();
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Fetching

/// One fetch in flight: the post-subrequest data and the body collected so far. Its pool
/// cleanup ends the fetch if the request dies before nginx reports the subrequest's end.
struct FetchJob {
    remote: Rc<Remote>,
    sr: *mut ngx_http_request_t,
    body: Vec<u8>,
    /// More than MAX_JWKS_LEN bytes arrived (the rest was discarded).
    overflow: bool,
    /// The final buffer of the response went through the filter.
    complete: bool,
    done: bool,
}

thread_local! {
    /// The key subrequests in flight in this worker, for the body filter.
    static ACTIVE: RefCell<Vec<(*mut ngx_http_request_t, *mut FetchJob)>> =
        const { RefCell::new(Vec::new()) };
}

fn active_job(sr: *mut ngx_http_request_t) -> Option<*mut FetchJob> {
    ACTIVE.with(|a| a.borrow().iter().find(|(r, _)| *r == sr).map(|(_, j)| *j))
}

fn deactivate(job: *mut FetchJob) {
    ACTIVE.with(|a| a.borrow_mut().retain(|(_, j)| *j != job));
}

unsafe extern "C" fn drop_fetch_job(data: *mut c_void) {
    // SAFETY: data is the FetchJob written by `start_fetch`, dropped once with the pool.
    unsafe {
        let job = data as *mut FetchJob;
        deactivate(job);
        if !(*job).done {
            (*job).remote.abandon();
        }
        ptr::drop_in_place(job);
    }
}

fn start_fetch(r: *mut ngx_http_request_t, remote: &Rc<Remote>) -> Result<(), ()> {
    // SAFETY: r is live; everything is allocated in its pool, which the subrequest shares.
    unsafe {
        let pool = (*r).pool;
        let cln = ngx_pool_cleanup_add(pool, std::mem::size_of::<FetchJob>());
        if cln.is_null() {
            return Err(());
        }
        let job = (*cln).data as *mut FetchJob;
        ptr::write(
            job,
            FetchJob {
                remote: remote.clone(),
                sr: ptr::null_mut(),
                body: Vec::new(),
                overflow: false,
                complete: false,
                done: true,
            },
        );
        (*cln).handler = Some(drop_fetch_job);

        let ps = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_post_subrequest_t>())
            as *mut ngx_http_post_subrequest_t;
        if ps.is_null() {
            return Err(());
        }
        (*ps).handler = Some(fetch_done);
        (*ps).data = job.cast();

        let mut uri = remote.uri;
        let mut sr: *mut ngx_http_request_t = ptr::null_mut();
        let rc = ngx_http_subrequest(
            r,
            &mut uri,
            ptr::null_mut(),
            &mut sr,
            ps,
            NGX_HTTP_SUBREQUEST_BACKGROUND as ngx_uint_t,
        );
        if rc != NGX_OK as ngx_int_t || sr.is_null() {
            return Err(());
        }
        clean_request(sr)?;
        (*job).sr = sr;
        (*job).done = false;
        ACTIVE.with(|a| a.borrow_mut().push((sr, job)));
        remote.fetching.set(true);
    }
    Ok(())
}

/// Makes the key subrequest carry nothing of the client's request: no headers (nginx copies
/// the client's, `Authorization` and `Cookie` included), no body, no variable values.
///
/// # Safety
/// `sr` must be a subrequest just created by `ngx_http_subrequest`.
unsafe fn clean_request(sr: *mut ngx_http_request_t) -> Result<(), ()> {
    unsafe {
        let pool = (*sr).pool;
        ptr::write_bytes(ptr::addr_of_mut!((*sr).headers_in), 0, 1);
        if ngx_list_init(
            &mut (*sr).headers_in.headers,
            pool,
            1,
            std::mem::size_of::<ngx_table_elt_t>(),
        ) != NGX_OK as ngx_int_t
        {
            return Err(());
        }
        (*sr).headers_in.content_length_n = -1;
        (*sr).headers_in.keep_alive_n = -1;
        let body = ngx_pcalloc(pool, std::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        if body.is_null() {
            return Err(());
        }
        (*sr).request_body = body;
        // `$request_uri` in the key location is the key URI, not the client's (which may
        // carry a token in its query string).
        (*sr).unparsed_uri = (*sr).uri;
        // nginx shares the parent's variable values with a subrequest; give it its own.
        let cmcf =
            *(*sr).main_conf.add(ngx_http_core_module.ctx_index) as *mut ngx_http_core_main_conf_t;
        let n = (*cmcf).variables.nelts;
        let vars = ngx_pcalloc(
            pool,
            n.max(1) * std::mem::size_of::<ngx_http_variable_value_t>(),
        ) as *mut ngx_http_variable_value_t;
        if vars.is_null() {
            return Err(());
        }
        (*sr).variables = vars;
    }
    Ok(())
}

unsafe extern "C" fn fetch_done(
    sr: *mut ngx_http_request_t,
    data: *mut c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: nginx calls post-subrequest handlers with the live subrequest.
    let log = unsafe { shared_request(sr) }.log();
    // Whatever the IdP did, the client's request goes on: only a client that went away (the
    // connection's error flag, which nginx checks itself) ends it.
    util::guard(log, NGX_OK as ngx_int_t, || {
        // SAFETY: data is the FetchJob in the shared request pool.
        let job = unsafe { &mut *(data as *mut FetchJob) };
        if job.done {
            return NGX_OK as ngx_int_t;
        }
        job.done = true;
        deactivate(job);
        let remote = job.remote.clone();
        let now = now();
        // SAFETY: sr and its main request are live while nginx finalizes sr.
        let client_gone = unsafe { (*(*(*sr).main).connection).error() != 0 };
        if client_gone {
            log_info!(
                log,
                "auth_jwt_rs: key request \"{}\" abandoned (client closed the connection)",
                remote.uri_str()
            );
            remote.abandon();
            return NGX_OK as ngx_int_t;
        }
        let body = std::mem::take(&mut job.body);
        // SAFETY: sr is the finished key subrequest of this job, live while nginx finalizes it.
        match unsafe { fetched_keys(sr, rc, job, &body) } {
            Ok((keys, warnings)) => {
                for w in warnings {
                    log_warn!(
                        log,
                        "auth_jwt_rs: key request \"{}\": {w}",
                        remote.uri_str()
                    );
                }
                metrics::key_fetch_ok();
                remote.end(now, Ok((&body, keys)));
            }
            Err((cause, why)) => {
                metrics::key_fetch_failed(cause);
                let kept = remote.end(now, Err(cause)).unwrap_or_default();
                log_warn!(
                    log,
                    "auth_jwt_rs: key request \"{}\" failed ({}): {why}; {kept}",
                    remote.uri_str(),
                    cause.as_str()
                );
            }
        }
        NGX_OK as ngx_int_t
    })
}

/// The keys in a finished key subrequest's response, or why there are none.
///
/// # Safety
/// `sr` must be the finished key subrequest of `job`.
unsafe fn fetched_keys(
    sr: *mut ngx_http_request_t,
    rc: ngx_int_t,
    job: &FetchJob,
    body: &[u8],
) -> Result<(KeySet, Vec<String>), (FetchCause, String)> {
    let timed_out = rc == NGX_HTTP_GATEWAY_TIME_OUT as ngx_int_t
        || rc == NGX_HTTP_REQUEST_TIME_OUT as ngx_int_t;
    // SAFETY: sr is live.
    let (status, encoded, announced) = unsafe {
        let ce = (*sr).headers_out.content_encoding;
        (
            (*sr).headers_out.status,
            !ce.is_null() && (*ce).hash != 0 && !bytes(&(*ce).value).is_empty(),
            (*sr).headers_out.content_length_n,
        )
    };
    if status == 0 {
        return Err(if timed_out {
            (FetchCause::Timeout, "timed out".into())
        } else {
            (
                FetchCause::Connect,
                "no response (see the error above)".into(),
            )
        });
    }
    if status != 200 {
        return Err((FetchCause::Status, format!("status {status}")));
    }
    if job.overflow {
        return Err((
            FetchCause::Size,
            format!("response larger than {MAX_JWKS_LEN} bytes"),
        ));
    }
    if !job.complete
        || rc == NGX_ERROR as ngx_int_t
        || (announced >= 0 && body.len() as i64 != announced)
    {
        return Err(if timed_out {
            (FetchCause::Timeout, "timed out in the body".into())
        } else {
            (
                FetchCause::Body,
                format!("truncated response ({} bytes received)", body.len()),
            )
        });
    }
    if encoded {
        return Err((FetchCause::Body, "compressed response".into()));
    }
    if body.is_empty() {
        return Err((FetchCause::Body, "empty response".into()));
    }
    let loaded =
        parse_jwks(body).map_err(|e| (FetchCause::Body, format!("not a usable JWKS: {e}")))?;
    Ok((KeySet::new(loaded.keys), loaded.warnings))
}

// ---------------------------------------------------------------------------------------------
// Collecting the body

static mut NEXT_BODY_FILTER: ngx_http_output_body_filter_pt = None;

/// Puts [`body_filter`] at the top of nginx's body filter chain (postconfiguration).
pub fn install_body_filter() {
    // SAFETY: configuration time, single-threaded; the same dance as nginx's C filters.
    unsafe {
        NEXT_BODY_FILTER = ngx_http_top_body_filter;
        ngx_http_top_body_filter = Some(body_filter);
    }
}

unsafe extern "C" fn body_filter(r: *mut ngx_http_request_t, chain: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: nginx calls body filters with a live request; key subrequests are never main.
    let job = if unsafe { (*r).main } == r {
        None
    } else {
        active_job(r)
    };
    match job {
        Some(job) => {
            // SAFETY: r is the live key subrequest; the job is alive while it is active.
            let log = unsafe { shared_request(r) }.log();
            util::guard(log, NGX_OK as ngx_int_t, || unsafe {
                collect(&mut *job, chain)
            })
        }
        // SAFETY: the next filter was installed before us and is never null in a cycle.
        None => unsafe {
            match NEXT_BODY_FILTER {
                Some(next) => next(r, chain),
                None => NGX_OK as ngx_int_t,
            }
        },
    }
}

/// Appends the chain's bytes to the job's body and marks them sent (nothing goes further).
///
/// # Safety
/// `chain` must be the chain nginx passed to the filter.
unsafe fn collect(job: &mut FetchJob, mut chain: *mut ngx_chain_t) -> ngx_int_t {
    unsafe {
        while !chain.is_null() {
            let b: *mut ngx_buf_t = (*chain).buf;
            chain = (*chain).next;
            if b.is_null() {
                continue;
            }
            if (*b).last_buf() != 0 || (*b).last_in_chain() != 0 {
                job.complete = true;
            }
            let in_memory = (*b).temporary() != 0 || (*b).memory() != 0 || (*b).mmap() != 0;
            if in_memory {
                let len = (*b).last.offset_from((*b).pos).max(0) as usize;
                if len > 0 {
                    let data = std::slice::from_raw_parts((*b).pos, len);
                    append(job, data);
                }
                (*b).pos = (*b).last;
            } else if (*b).in_file() != 0 && !(*b).file.is_null() {
                let len = ((*b).file_last - (*b).file_pos).max(0) as usize;
                if len > 0 && !job.overflow && job.body.len() + len <= MAX_JWKS_LEN {
                    let mut tmp = vec![0u8; len];
                    let n = ngx_read_file((*b).file, tmp.as_mut_ptr(), len, (*b).file_pos);
                    if n < 0 || n as usize != len {
                        // Unreadable temp file: the response counts as truncated.
                        job.complete = false;
                        job.overflow = false;
                        job.body.clear();
                    } else {
                        append(job, &tmp);
                    }
                } else if len > 0 {
                    job.overflow = true;
                }
                (*b).file_pos = (*b).file_last;
            }
        }
    }
    NGX_OK as ngx_int_t
}

fn append(job: &mut FetchJob, data: &[u8]) {
    if job.overflow || job.body.len() + data.len() > MAX_JWKS_LEN {
        job.overflow = true;
        job.body = Vec::new();
        return;
    }
    job.body.extend_from_slice(data);
}

// ---------------------------------------------------------------------------------------------
// Waiting for a fetch

/// A request waiting for keys (one per request, in its pool).
struct Waiter {
    r: *mut ngx_http_request_t,
    ev: ngx_event_t,
    /// `ngx_current_msec` after which the request no longer waits.
    deadline: u64,
    /// Remotes whose waiter lists hold this waiter.
    waiting_on: Vec<Rc<Remote>>,
    /// Remotes this request started a fetch for (at most one each).
    started: Vec<*const Remote>,
}

unsafe extern "C" fn drop_waiter(data: *mut c_void) {
    // SAFETY: data is the Waiter written by `get_or_create`, dropped once with the pool.
    unsafe {
        let w = data as *mut Waiter;
        (*w).detach();
        ptr::drop_in_place(w);
    }
}

/// The one pointer value written into, and compared with, waiter cleanup records.
static DROP_WAITER: Cleanup = drop_waiter;

impl Waiter {
    /// The waiter of `r`, if it has one.
    fn find(r: *mut ngx_http_request_t) -> Option<*mut Waiter> {
        // SAFETY: r is live; records with DROP_WAITER hold a Waiter.
        unsafe { util::find_cleanup::<Waiter>((*r).pool, DROP_WAITER, |w| (*w).r == r) }
    }

    /// `known`, or a new waiter for `r` (then remembered in `known`).
    fn get_or_create(
        r: *mut ngx_http_request_t,
        known: &mut Option<*mut Waiter>,
    ) -> Option<*mut Waiter> {
        if let Some(w) = *known {
            return Some(w);
        }
        // SAFETY: the record owns a Waiter-sized block in the request pool.
        unsafe {
            let cln = ngx_pool_cleanup_add((*r).pool, std::mem::size_of::<Waiter>());
            if cln.is_null() {
                return None;
            }
            let w = (*cln).data as *mut Waiter;
            ptr::write(
                w,
                Waiter {
                    r,
                    ev: std::mem::zeroed(),
                    deadline: now_ms() + MAX_WAIT_MS,
                    waiting_on: Vec::new(),
                    started: Vec::new(),
                },
            );
            (*cln).handler = Some(DROP_WAITER);
            (*w).ev.data = r.cast();
            (*w).ev.handler = Some(wake);
            (*w).ev.log = (*(*r).connection).log;
            *known = Some(w);
            Some(w)
        }
    }

    fn may_wait(&self) -> bool {
        now_ms() < self.deadline
    }

    fn started(&self, remote: &Rc<Remote>) -> bool {
        self.started.contains(&Rc::as_ptr(remote))
    }

    /// Waits for `remote`: woken when its fetch ends, or at the deadline.
    fn register(&mut self, remote: &Rc<Remote>) {
        let me: *mut Waiter = self;
        if !self.waiting_on.iter().any(|x| Rc::ptr_eq(x, remote)) {
            self.waiting_on.push(remote.clone());
        }
        let mut list = remote.waiters.borrow_mut();
        if !list.contains(&me) {
            list.push(me);
        }
        drop(list);
        if self.ev.timer_set() == 0 {
            let left = self.deadline.saturating_sub(now_ms()).max(1);
            // SAFETY: the event lives in the request pool; detach() removes the timer.
            unsafe { ngx::ffi::ngx_add_timer(&mut self.ev, left as ngx::ffi::ngx_msec_t) };
        }
    }

    /// Leaves every waiter list and cancels the event.
    fn detach(&mut self) {
        let me: *mut Waiter = self;
        for remote in self.waiting_on.drain(..) {
            remote.waiters.borrow_mut().retain(|&w| w != me);
        }
        // SAFETY: the event is ours; nginx keeps it in its timer tree / posted queue only.
        unsafe {
            if self.ev.timer_set() != 0 {
                ngx::ffi::ngx_del_timer(&mut self.ev);
            }
            if self.ev.posted() != 0 {
                ngx::ffi::ngx_delete_posted_event(&mut self.ev);
            }
        }
        self.ev.set_timedout(0);
    }
}

/// Resumes a waiting request the way nginx resumes one whose subrequest ended.
unsafe extern "C" fn wake(ev: *mut ngx_event_t) {
    // SAFETY: ev.data is the waiting request, alive (its cleanup would have cancelled us).
    unsafe {
        let r = (*ev).data as *mut ngx_http_request_t;
        if let Some(w) = Waiter::find(r) {
            (*w).detach();
        }
        let c = (*r).connection;
        if let Some(h) = (*r).write_event_handler {
            h(r);
        }
        ngx_http_run_posted_requests(c);
    }
}
