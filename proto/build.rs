//! Generates the pathgrid.v1 code with the vendored protoc (no system protoc needed), and the
//! encoded file descriptor set that the coordinator's server reflection serves.
//!
//! The protoc path is handed to prost-build through `Config::protoc_executable` rather
//! than the `PROTOC` environment variable: `std::env::set_var` is `unsafe` in edition
//! 2024 and the workspace forbids unsafe code.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let proto = "proto/pathgrid/v1/pathgrid.proto";
    println!("cargo:rerun-if-changed={proto}");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .file_descriptor_set_path(out_dir.join("pathgrid_descriptor.bin"))
        .compile_with_config(config, &[proto], &["proto"])?;
    Ok(())
}
