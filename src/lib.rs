//! gan-bias: audits a face generator for entangled attributes, on any GPU.
//!
//! Data flows one way, one module per stage:
//! [`weights`] (files -> named tensors) -> [`model`] (tensors -> a [`graph`] of the
//! architecture, a network) -> [`passes`] (BatchNorm folded, activations fused, dead nodes
//! removed) -> [`program`] (a graph -> a program of ops, each node by its forward and
//! input-gradient rule) -> [`backend`] (runs programs) -> [`probe`] (the notebook's probe,
//! batch by batch) -> [`stats`] (typed views, rankings, statistics) -> [`report`] (tables,
//! CSV, JSON). [`ops`] is the leaf every stage builds on: each op keeps
//! its WGSL (in `shaders/`), its uniform struct, its dispatch and its CPU twin together.
//! [`load`] builds the networks (and reads noise and planted worlds) from files for every caller;
//! [`dataset`] reads labelled images, transformed as the notebook transforms them, for audits;
//! [`output`] writes every file whole or not at all.
//!
//! Owns: the module tree. Must not touch: anything of the command line (no clap here).

pub mod backend;
pub mod bench;
pub mod dataset;
pub mod features;
pub mod graph;
pub mod host;
pub mod import;
pub mod load;
pub mod model;
pub mod onnx;
pub mod ops;
pub mod output;
pub mod passes;
pub mod pictures;
pub mod planted;
pub mod plots;
pub mod probe;
pub mod program;
pub mod report;
pub mod rng;
pub mod stats;
pub mod weights;
