//! fastpath-route
