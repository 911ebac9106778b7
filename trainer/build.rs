//! Makes the trainer find libtorch at run time without LD_LIBRARY_PATH (an
//! rpath to the folder torch-sys linked against, plus one relative to the
//! binary for a moved checkout). libtorch_cuda is not linked: `cuda::load`
//! opens it at run time when a GPU driver is present, which spares CPU runs
//! the cost of loading it (a fifth of a second per rank). Also compiles the
//! C++ call of libtorch's fused AdamW step, which tch does not bind
//! (`src/optim/fused_adamw.cpp`), against the same libtorch headers.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    compile_fused_adamw(Path::new(&lib));
    // Where comm::nccl_lib links libnccl.so for cudarc to open: the binary's
    // own folder, which (unlike a subfolder made later) exists when the
    // loader first reads the search path, so the loader never skips it.
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
    // target/<profile>/trainer -> <repo>/.venv/... when torch lives in the repo's venv.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let repo = Path::new(&manifest).parent().unwrap_or(Path::new("."));
    if let Ok(rel) = Path::new(&lib).strip_prefix(repo) {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../../{}",
            rel.display()
        );
    }
}

/// `src/optim/fused_adamw.cpp` against the headers beside the libtorch
/// folder `lib` (`<torch>/lib` -> `<torch>/include`), with the C++ ABI
/// torch-sys builds with (`LIBTORCH_CXX11_ABI`, default 1: PyPI's torch).
fn compile_fused_adamw(lib: &Path) {
    let source = "src/optim/fused_adamw.cpp";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let include = lib.parent().unwrap_or(lib).join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file(source)
        .compile("ferrospeed_fused_adamw");
}
