//! A projection of a block: its weight, optional bias, and optional LoRA
//! adapter, applied as PEFT applies it.

use tch::Tensor;

use super::dropout::Dropout;

/// `x W^T + b`, plus `scale * (x A^T) B^T` with a LoRA adapter `(A, B)`.
#[derive(Clone, Copy)]
pub struct Linear<'a> {
    pub weight: &'a Tensor,
    pub bias: Option<&'a Tensor>,
    /// `(lora_A [r, in], lora_B [out, r], scale)`.
    pub lora: Option<(&'a Tensor, &'a Tensor, f64)>,
    /// The dropout of the adapter's input (training only).
    pub dropout: Option<Dropout>,
}

impl<'a> Linear<'a> {
    /// A projection without an adapter.
    pub fn plain(weight: &'a Tensor, bias: Option<&'a Tensor>) -> Self {
        Linear {
            weight,
            bias,
            lora: None,
            dropout: None,
        }
    }

    /// The projection of `x` `[..., in]`: the base result, then the
    /// adapter's `lora_B(lora_A(dropout(x))) * scale` added to it, as PEFT's
    /// `lora.Linear.forward` computes it.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let y = x.linear(self.weight, self.bias);
        match self.lora {
            None => y,
            Some((a, b, scale)) => {
                let dropped = self.dropout.map(|d| d.apply(x));
                let x = dropped.as_ref().unwrap_or(x);
                // `y + (x A^T) (scale B)^T` in one GEMM that adds into `y`:
                // scaling B `[out, r]` costs less than scaling the
                // `[tokens, out]` product, and the sum needs no pass of its own.
                let low = x.linear::<&Tensor>(a, None);
                let (out, r) = (y.size()[y.dim() - 1], low.size()[low.dim() - 1]);
                let flat = y.reshape([-1, out]);
                let up = flat.addmm(&low.reshape([-1, r]), &(b * scale).tr());
                up.view_as(&y)
            }
        }
    }
}
