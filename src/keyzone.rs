//! `auth_jwt_rs_key_zone`: the last good key set of every `auth_jwt_rs_key_request` URI, and
//! the state of its fetches, in shared memory (README "Keys from an identity provider").
//!
//! One fetch serves every worker; the key sets survive `nginx -s reload` (the zone is reused
//! when its size is unchanged) and a worker's restart. Each URI has a [`Slot`]: the raw JWKS
//! document, a generation number that workers compare without the lock to know when to
//! re-parse, and the [`FetchState`] (who is fetching, back-off after failures, the unknown-kid
//! refetch budget), read and written under the slab pool's mutex.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use ngx::ffi::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock,
    ngx_slab_alloc_locked, ngx_slab_calloc_locked, ngx_slab_free_locked, ngx_slab_pool_t,
    ngx_str_t, NGX_ERROR, NGX_OK,
};

/// Default size of the zone (`auth_jwt_rs_key_zone`).
pub const DEFAULT_SIZE: usize = 1024 * 1024;
/// Smallest size accepted (eight 4 KiB pages: the slab allocator's own bookkeeping).
pub const MIN_SIZE: usize = 32 * 1024;

/// The fetch state of one URI, shared by every worker. Times are Unix seconds; 0 is "never".
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct FetchState {
    /// When the stored key set was fetched.
    pub fetched_at: u64,
    /// The zone's configuration generation at that time (see [`Zone::cycle`]).
    pub fetched_cycle: u64,
    /// The worker fetching now (0: nobody) and since when.
    pub lease_pid: i64,
    pub lease_since: u64,
    /// Number of fetches that ended (any outcome): waiters in other workers watch it.
    pub ended: u64,
    /// Consecutive failures, and when the next attempt is allowed.
    pub failures: u32,
    pub retry_at: u64,
    /// Last unknown-kid refetch.
    pub last_refetch: u64,
}

#[repr(C)]
struct Zone {
    /// Incremented each time a new configuration adopts the zone (reload): key sets fetched
    /// under an older configuration are refreshed in the background.
    cycle: AtomicU64,
    slots: *mut Slot,
}

#[repr(C)]
pub struct Slot {
    next: *mut Slot,
    uri: *mut u8,
    uri_len: usize,
    /// Generation of `doc`; bumped (under the lock) each time a new document is stored.
    gen: AtomicU64,
    state: FetchState,
    doc: *mut u8,
    doc_len: usize,
}

/// Adds the zone to the configuration being parsed.
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn add(
    cf: *mut ngx_conf_t,
    size: usize,
    tag: *mut c_void,
) -> Option<*mut ngx_shm_zone_t> {
    const NAME: &str = "auth_jwt_rs_keys";
    let mut name = ngx_str_t {
        len: NAME.len(),
        data: NAME.as_ptr() as *mut u8,
    };
    // SAFETY: cf is being parsed; nginx copies nothing but keeps the static name.
    let zone = unsafe { ngx_shared_memory_add(cf, &mut name, size, tag) };
    if zone.is_null() {
        return None;
    }
    // SAFETY: cf is being parsed; the zone was just added to its cycle.
    unsafe { (*zone).init = Some(init_zone) };
    Some(zone)
}

unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this once per cycle with the zone and, when the zone is reused by a
    // reload, the previous cycle's `data` (our Zone, in the same mapping).
    unsafe {
        if !data.is_null() {
            let z = data as *mut Zone;
            (*z).cycle.fetch_add(1, Ordering::AcqRel);
            (*zone).data = data;
            return NGX_OK as ngx_int_t;
        }
        let pool = (*zone).shm.addr as *mut ngx_slab_pool_t;
        ngx_shmtx_lock(&mut (*pool).mutex);
        let z = ngx_slab_calloc_locked(pool, std::mem::size_of::<Zone>()) as *mut Zone;
        ngx_shmtx_unlock(&mut (*pool).mutex);
        if z.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*z).cycle = AtomicU64::new(1);
        (*pool).data = z.cast();
        (*zone).data = z.cast();
    }
    NGX_OK as ngx_int_t
}

/// A handle on the zone of the running configuration.
#[derive(Clone, Copy)]
pub struct KeyZone {
    zone: *mut ngx_shm_zone_t,
}

/// Exclusive access to the zone while it is alive (the slab pool's mutex).
struct Locked {
    pool: *mut ngx_slab_pool_t,
}

impl Locked {
    fn new(pool: *mut ngx_slab_pool_t) -> Locked {
        // SAFETY: pool is the zone's live slab pool; its mutex is shared by all workers and
        // released by the master if a worker dies holding it.
        unsafe { ngx_shmtx_lock(&mut (*pool).mutex) };
        Locked { pool }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { ngx_shmtx_unlock(&mut (*self.pool).mutex) };
    }
}

impl KeyZone {
    pub fn new(zone: *mut ngx_shm_zone_t) -> KeyZone {
        KeyZone { zone }
    }

    fn parts(&self) -> Option<(*mut ngx_slab_pool_t, *mut Zone)> {
        // SAFETY: the zone record lives in the cycle; data is set by init_zone.
        unsafe {
            let data = (*self.zone).data as *mut Zone;
            if data.is_null() {
                return None;
            }
            Some(((*self.zone).shm.addr as *mut ngx_slab_pool_t, data))
        }
    }

    /// The configuration generation of the zone.
    pub fn cycle(&self) -> u64 {
        match self.parts() {
            // SAFETY: the Zone lives as long as the mapping.
            Some((_, z)) => unsafe { (*z).cycle.load(Ordering::Acquire) },
            None => 0,
        }
    }

    /// The slot of `uri`, created if needed; `None` when the zone is full.
    pub fn slot(&self, uri: &[u8]) -> Option<*mut Slot> {
        let (pool, z) = self.parts()?;
        let _lock = Locked::new(pool);
        // SAFETY: the slot list is only changed under the lock; slots are never freed.
        unsafe {
            let mut s = (*z).slots;
            while !s.is_null() {
                if std::slice::from_raw_parts((*s).uri, (*s).uri_len) == uri {
                    return Some(s);
                }
                s = (*s).next;
            }
            let s = ngx_slab_calloc_locked(pool, std::mem::size_of::<Slot>()) as *mut Slot;
            if s.is_null() {
                return None;
            }
            let name = ngx_slab_alloc_locked(pool, uri.len().max(1)) as *mut u8;
            if name.is_null() {
                ngx_slab_free_locked(pool, s.cast());
                return None;
            }
            ptr::copy_nonoverlapping(uri.as_ptr(), name, uri.len());
            (*s).uri = name;
            (*s).uri_len = uri.len();
            (*s).next = (*z).slots;
            (*z).slots = s;
            Some(s)
        }
    }

    /// Runs `f` on the fetch state of `slot` under the lock.
    pub fn with_state<T>(&self, slot: *mut Slot, f: impl FnOnce(&mut FetchState) -> T) -> T {
        let Some((pool, _)) = self.parts() else {
            // Unreachable (a slot exists only in a live zone): act on a scratch state.
            return f(&mut FetchState::default());
        };
        let _lock = Locked::new(pool);
        // SAFETY: the lock gives exclusive access to the slot's state.
        f(unsafe { &mut (*slot).state })
    }

    /// The generation of the document stored in `slot` (no lock: a hint to re-read).
    pub fn generation(slot: *mut Slot) -> u64 {
        // SAFETY: slots live as long as the mapping.
        unsafe { (*slot).gen.load(Ordering::Acquire) }
    }

    /// A copy of the stored document with its generation and fetch state.
    pub fn read(&self, slot: *mut Slot) -> Option<(u64, Vec<u8>, FetchState)> {
        let (pool, _) = self.parts()?;
        let _lock = Locked::new(pool);
        // SAFETY: the document is only replaced under the lock.
        unsafe {
            if (*slot).doc.is_null() {
                return None;
            }
            let doc = std::slice::from_raw_parts((*slot).doc, (*slot).doc_len).to_vec();
            Some(((*slot).gen.load(Ordering::Acquire), doc, (*slot).state))
        }
    }

    /// Stores a freshly fetched document and applies `f` to the state, under one lock.
    /// Returns the new generation, or `None` (state still updated) when the zone has no room
    /// for the document (the previous one is kept for the other workers).
    pub fn store(
        &self,
        slot: *mut Slot,
        doc: &[u8],
        f: impl FnOnce(&mut FetchState),
    ) -> Option<u64> {
        let (pool, _) = self.parts()?;
        let _lock = Locked::new(pool);
        // SAFETY: exclusive access under the lock; the old document is freed only here.
        unsafe {
            f(&mut (*slot).state);
            let p = ngx_slab_alloc_locked(pool, doc.len().max(1)) as *mut u8;
            if p.is_null() {
                return None;
            }
            ptr::copy_nonoverlapping(doc.as_ptr(), p, doc.len());
            if !(*slot).doc.is_null() {
                ngx_slab_free_locked(pool, (*slot).doc.cast());
            }
            (*slot).doc = p;
            (*slot).doc_len = doc.len();
            let gen = (*slot).gen.load(Ordering::Relaxed) + 1;
            (*slot).gen.store(gen, Ordering::Release);
            Some(gen)
        }
    }

    /// Every URI in the zone with the time its key set was fetched (for the status page).
    pub fn ages(&self) -> Vec<(Vec<u8>, u64)> {
        let Some((pool, z)) = self.parts() else {
            return Vec::new();
        };
        let _lock = Locked::new(pool);
        let mut out = Vec::new();
        // SAFETY: walked under the lock.
        unsafe {
            let mut s = (*z).slots;
            while !s.is_null() {
                if !(*s).doc.is_null() {
                    let uri = std::slice::from_raw_parts((*s).uri, (*s).uri_len).to_vec();
                    out.push((uri, (*s).state.fetched_at));
                }
                s = (*s).next;
            }
        }
        out
    }
}
