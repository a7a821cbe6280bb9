//! fastpath-health
