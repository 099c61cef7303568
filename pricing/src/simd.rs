//! The one place where the kernels enter the CPU's vector units.
//!
//! The kernels are plain Rust over slices, written branch-free and marked
//! `#[inline(always)]`. [`run`] calls them inside a function compiled for the widest
//! instruction set the CPU has (through `pulp`, which checks the CPU at run time and needs no
//! `unsafe` here), so the compiler vectorises the same source for SSE2, AVX2 or AVX-512.
//!
//! Why the results cannot depend on the level: every kernel uses only IEEE operations that
//! are correctly rounded at any width (+, −, ×, ÷, √, comparisons, exact conversions), never
//! `mul_add`, and Rust never fuses a multiply and an add on its own, so an AVX2 lane computes
//! exactly what the scalar code does. Sums over paths run in a fixed lane order
//! ([`crate::lanes`]), not in whatever order a vector width would suggest. A test prices
//! the same jobs at every level the CPU has and compares the bits.
//!
//! `PATHGRID_SIMD=scalar|avx2|avx512` caps the level (for tests, and to compare speeds); an
//! unknown value is ignored with a note on stderr, and a level the CPU lacks falls back to the
//! best it has.

use pulp::WithSimd;
use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction-set level, from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// x86-64 baseline (SSE2) or any other CPU.
    Scalar,
    /// x86-64-v3: AVX2, FMA (not used for arithmetic), BMI.
    Avx2,
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL.
    Avx512,
}

/// The environment variable that caps the level.
pub const ENV: &str = "PATHGRID_SIMD";

impl Level {
    pub const ALL: [Level; 3] = [Level::Scalar, Level::Avx2, Level::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The widest level this CPU supports.
    pub fn detected() -> Level {
        match pulp::Arch::new() {
            #[cfg(target_arch = "x86_64")]
            pulp::Arch::V4(_) => Level::Avx512,
            #[cfg(target_arch = "x86_64")]
            pulp::Arch::V3(_) => Level::Avx2,
            _ => Level::Scalar,
        }
    }

    /// The levels this CPU can run, narrowest first.
    pub fn available() -> Vec<Level> {
        let top = Level::detected();
        Level::ALL.into_iter().filter(|l| *l <= top).collect()
    }

    /// The level kernels run at: the CPU's best, capped by `PATHGRID_SIMD`. Read once.
    pub fn active() -> Level {
        static ACTIVE: OnceLock<Level> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let top = Level::detected();
            match std::env::var(ENV) {
                Ok(v) => match Level::parse(&v) {
                    Some(cap) => cap.min(top),
                    None => {
                        eprintln!("{ENV}={v:?} is not one of scalar, avx2, avx512; using {}", top.name());
                        top
                    }
                },
                Err(_) => top,
            }
        })
    }
}

thread_local! {
    /// A level set by [`with_level`] for this thread, over the process-wide one.
    static FORCED: Cell<Option<Level>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's kernels at `level` (or the best below it that the CPU has),
/// whatever `PATHGRID_SIMD` says: tests and benches compare levels in one process.
pub fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Level>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.set(self.0);
        }
    }
    let _restore = Restore(FORCED.replace(Some(level)));
    f()
}

/// Runs `op` at the active level (see [`with_level`] and [`Level::active`]).
#[inline]
pub fn run<Op: WithSimd>(op: Op) -> Op::Output {
    run_at(FORCED.get().unwrap_or_else(Level::active), op)
}

/// Runs `op` at `level`, or at the best level below it that the CPU has.
#[inline]
pub fn run_at<Op: WithSimd>(level: Level, op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if level >= Level::Avx512
            && let Some(v4) = pulp::x86::V4::try_new()
        {
            return pulp::Arch::V4(v4).dispatch(op);
        }
        if level >= Level::Avx2
            && let Some(v3) = pulp::x86::V3::try_new()
        {
            return pulp::Arch::V3(v3).dispatch(op);
        }
    }
    let _ = level;
    pulp::Arch::Scalar.dispatch(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("sse9"), None);
        assert!(Level::Scalar < Level::Avx2 && Level::Avx2 < Level::Avx512);
        assert!(Level::available().contains(&Level::Scalar));
        assert!(Level::active() <= Level::detected());
    }
}
