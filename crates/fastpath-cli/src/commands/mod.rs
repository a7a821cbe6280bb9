//! One module per subcommand; each exposes `Args` (clap) and `run(&Args, &GlobalOpts)`.

pub mod bench;
pub mod calibrate;
pub mod devices;
pub mod health;
pub mod kernels;
pub mod route;
pub mod run;
pub mod run_kernel;
