// The op kernels of one ISA level: ops_ref.hpp's float instantiations compiled with this level's
// flags, in climseg::nn::isa_<level>::ref (compiled once per level, see kernel_set.hpp).
#include "nn/kernels/ops_kernels.hpp"

#include "nn/kernels/kernel_set.hpp"

namespace climseg::nn::CLIMSEG_KERNEL_NS {

const OpsKernels ops_kernels = {
    .relu_forward = &ref::relu_forward<float>,
    .relu_backward = &ref::relu_backward<float>,
    .leaky_relu_forward = &ref::leaky_relu_forward<float>,
    .leaky_relu_backward = &ref::leaky_relu_backward<float>,
    .sigmoid_forward = &ref::sigmoid_forward<float>,
    .sigmoid_backward = &ref::sigmoid_backward<float>,
    .tanh_forward = &ref::tanh_forward<float>,
    .tanh_backward = &ref::tanh_backward<float>,
    .prelu_forward = &ref::prelu_forward<float>,
    .prelu_backward = &ref::prelu_backward<float>,
    .bn_channel_sums_one = &ref::bn_channel_sums_one<float>,
    .bn_channel_sums = &ref::bn_channel_sums<float>,
    .bn_apply_plane = &ref::bn_apply_plane<float>,
    .bn_apply = &ref::bn_apply<float>,
    .bn_backward_sums_one = &ref::bn_backward_sums_one<float>,
    .bn_backward_sums = &ref::bn_backward_sums<float>,
    .bn_backward_apply_plane = &ref::bn_backward_apply_plane<float>,
    .bn_backward_apply = &ref::bn_backward_apply<float>,
    .max_pool2d_forward = &ref::max_pool2d_forward<float>,
    .max_pool2d_backward = &ref::max_pool2d_backward<float>,
    .avg_pool2d_forward = &ref::avg_pool2d_forward<float>,
    .avg_pool2d_backward = &ref::avg_pool2d_backward<float>,
    .global_avg_pool_forward = &ref::global_avg_pool_forward<float>,
    .global_avg_pool_backward = &ref::global_avg_pool_backward<float>,
    .linear_forward = &ref::linear_forward<float>,
    .linear_backward = &ref::linear_backward<float>,
    .upsample_bilinear_forward = &ref::upsample_bilinear_forward_taps<float>,
    .upsample_bilinear_backward = &ref::upsample_bilinear_backward<float>,
    .upsample_nearest_forward = &ref::upsample_nearest_forward<float>,
    .upsample_nearest_backward = &ref::upsample_nearest_backward<float>,
    .copy_channels = &ref::copy_channels<float>,
    .add_forward = &ref::add_forward<float>,
    .axpy_grad = &ref::axpy_grad<float>,
    .mul_forward = &ref::mul_forward<float>,
    .mul_backward = &ref::mul_backward<float>,
    .scale_channels_forward = &ref::scale_channels_forward<float>,
    .add_scaled_channels_forward = &ref::add_scaled_channels_forward<float>,
    .scale_channels_backward = &ref::scale_channels_backward<float>,
    .bias_grad = &ref::bias_grad<float>,
    .softmax_channels_forward = &ref::softmax_channels_forward<float>,
    .softmax_argmax_channels = &ref::softmax_argmax_channels<float>,
    .softmax_channels_backward = &ref::softmax_channels_backward<float>,
    .dropout_apply = &ref::dropout_apply<float>,
    .cross_entropy_forward = &ref::cross_entropy_forward<float>,
    .cross_entropy_backward = &ref::cross_entropy_backward<float>,
    .overlap_forward = &ref::overlap_forward<float>,
    .overlap_backward = &ref::overlap_backward<float>,
};

}  // namespace climseg::nn::CLIMSEG_KERNEL_NS
