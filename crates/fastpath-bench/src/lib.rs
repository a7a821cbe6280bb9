//! fastpath-bench
