//! Every op on the GPU against its CPU twin, on seeded random inputs of awkward shapes; the
//! convolutions against each other (adjoint identity); the input-gradient of whole chained
//! networks against central differences; and the shape checks every op makes before it runs.
//!
//! Run with `--nocapture` to see the worst GPU-vs-CPU differences of each op.

mod checks;
mod conv;
mod gradients;
mod small;
