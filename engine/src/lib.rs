//! Upline's engine — being written.
pub mod placement;
