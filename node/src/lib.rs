//! pathgrid node
