//! One allocation check for every unit test of the crate (a test binary has one global
//! allocator, so the modules cannot each bring their own).
//!
//! Without the `alloc-guard` feature a counting allocator is installed and
//! [`assert_no_alloc`] fails with the number of heap operations `f` made on this thread. With
//! `alloc-guard`, nice-plug's `assert_process_allocs` allocator is the global one and
//! [`assert_no_alloc`] runs `f` under its guard, which aborts the test binary on any heap
//! operation.

/// Runs `f` and fails the test if it allocated, reallocated or freed heap memory on this thread.
pub fn assert_no_alloc<T>(what: &str, f: impl FnOnce() -> T) -> T {
    imp::assert_no_alloc(what, f)
}

#[cfg(not(feature = "alloc-guard"))]
mod imp {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts heap operations of the current thread while enabled.
    struct Counting;

    /// Notes one heap operation if this thread is counting.
    fn note() {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
    }

    // SAFETY: forwards every call to the system allocator unchanged; only touches thread-local
    // counters, which never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note();
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            note();
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note();
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    pub fn assert_no_alloc<T>(what: &str, f: impl FnOnce() -> T) -> T {
        COUNT.with(|c| c.set(0));
        COUNTING.with(|c| c.set(true));
        let out = f();
        COUNTING.with(|c| c.set(false));
        let count = COUNT.with(Cell::get);
        assert_eq!(count, 0, "{what}: {count} heap operations");
        out
    }

    #[test]
    fn counts_allocations() {
        let caught = std::panic::catch_unwind(|| assert_no_alloc("a Vec", || vec![1u8; 100].len()));
        assert!(caught.is_err(), "an allocation must fail the check");
        assert_eq!(assert_no_alloc("arithmetic", || 2 + 2), 4);
    }
}

#[cfg(feature = "alloc-guard")]
mod imp {
    pub fn assert_no_alloc<T>(_what: &str, f: impl FnOnce() -> T) -> T {
        nice_assert_no_alloc::assert_no_alloc(f)
    }
}
