//! The trainer opens libtorch_cuda at run time instead of linking it. This
//! checks, on a machine without a GPU, that opening it the way the trainer
//! does registers libtorch's CUDA backend with the dispatcher: before, a
//! CUDA tensor is refused because no CUDA backend exists; after, libtorch
//! gets as far as looking for the NVIDIA driver.

use tch::{Device, Kind, Tensor};

fn cuda_tensor_error() -> Option<String> {
    Tensor::f_zeros([2], (Kind::Float, Device::Cuda(0)))
        .err()
        .map(|e| e.to_string())
}

#[test]
fn opening_libtorch_cuda_registers_the_cuda_backend() {
    if trainer::cuda::driver_present() {
        // A GPU machine: the backend must give a real CUDA tensor.
        trainer::cuda::load().expect("libtorch_cuda loads");
        assert_eq!(cuda_tensor_error(), None, "a CUDA tensor on a GPU machine");
        return;
    }
    let before = cuda_tensor_error().expect("no CUDA tensor before libtorch_cuda is opened");
    assert!(
        before.contains("'CUDA' backend") || before.contains("not linked with support for cuda"),
        "before opening libtorch_cuda, CUDA should be an unknown backend: {before}"
    );
    trainer::cuda::load().expect("libtorch_cuda loads on a machine without a GPU");
    let after = cuda_tensor_error().expect("no CUDA tensor without a driver");
    assert!(
        after.contains("NVIDIA driver"),
        "after opening libtorch_cuda, libtorch should look for the driver: {after}"
    );
}
