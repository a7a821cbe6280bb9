//! fastpath-gpu
