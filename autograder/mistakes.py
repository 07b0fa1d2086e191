"""The known mistakes that a failure message can name.

Each phrase reads "short name: what is wrong and what is right"; a score table
shows the short name, the failure's details the whole phrase. A test passes
``mistakes={PHRASE: what_that_mistake_returns}`` to ``assert_same``; the
mistakes marked "automatic" are tried on every tensor comparison.
"""

from __future__ import annotations

import torch

# Tried on every comparison of floating-point tensors (automatic).
TRANSPOSED = "transposed output: rows and columns are swapped (check the order of H and W)"
SIGN_FLIPPED = "sign flipped: every value has the opposite sign"
FLOAT32_PRECISION = (
    "float32 arithmetic on float64 input: the values are only float32-accurate; "
    "create intermediate tensors with dtype=input.dtype"
)

# Convolution.
FLIPPED_KERNEL = (
    "flipped kernel: that is the textbook convolution, but conv2d is cross-correlation "
    "(the kernel is used as is, not rotated by 180 degrees)"
)
MISSING_BIAS = "bias missing: add bias[c] to every value of output channel c"
BIAS_PER_INPUT_CHANNEL = "bias added before summing over input channels: add it once per output channel"
NO_CHANNEL_SUM = "channels not summed: a rank-3 kernel gives one value per position, the sum over all channels"
OFF_BY_ONE_HIGH = "off by one (too large): the output has size - kernel_size + 1 positions, not size - kernel_size + 2"
OFF_BY_ONE_LOW = "off by one (too small): the last window that fits counts too; add 1"
STRIDE_IGNORED = "stride ignored: with stride s only every s-th window is used"
DILATION_IGNORED = "dilation ignored: with dilation d the kernel taps are d pixels apart"
PADDING_IGNORED = "padding ignored: pad the input before sliding the kernel"
PADDING_ONE_SIDE = "padding counted once: padding p adds p pixels on both sides (2p in all)"
NO_FLOOR = "division not floored: a window that does not fit completely is not used"
ROUNDED_UP = 'division rounded up: a window that does not fit completely is not used; floor with //'
INPUT_NOT_COUNTED = "input left out: the input's activations are held in memory too; count them"
ELEMENTS_NOT_BYTES = 'elements counted, not bytes: multiply the number of elements by bytes_per_element'
ROWS_NOT_CHANNEL_FIRST = "rows ordered (kernel row, kernel column, channel): im2col's rows run over the channels first, then the kernel rows, then the kernel columns, (channel, row, column) as F.unfold orders them"
WINDOWS_COLUMN_MAJOR = 'windows ordered column by column: the columns of im2col run over the windows row by row (left to right, then down), as F.unfold orders them'
WEIGHT_ORDER = "weight flattened in another order than the columns: weight.reshape(C_out, C_in*kh*kw) is ordered (channel, row, column), the order of im2col's rows"
STRIDE_AS_DILATION = "stride and dilation swapped: stride is the step from one window to the next, dilation the step between the taps inside a window (window (i, j) starts at (i * stride_h, j * stride_w); its taps are dilation apart)"
PADDING_PAIR_IGNORED = "padding pair ignored: an (h, w) padding pads h rows at the top and the bottom and w columns at the left and the right, just as an int pads all four sides"
WINDOW_3X3 = "window hard-coded to 3x3: the lesson's kernel is 3x3, but the window takes the kernel's own size, kh, kw = kernel.shape (a 3x3 kernel works, other sizes do not)"
CONV_MATRIX_TRANSPOSED = "conv_matrix transposed: M is (Ho*Wo, H*W), one row per output pixel and one column per image pixel, so that M @ image.flatten() is the output; this is M.T"

# Padding.
SYMMETRIC_NOT_REFLECT = (
    "symmetric padding instead of reflect: reflect mirrors about the edge pixel without "
    "repeating it ([a b c] -> [c b | a b c | b a])"
)
SIDES_SWAPPED = "padding sides swapped: padding is (left, right, top, bottom), the last dimension first"
REPLICATE_NOT_REFLECT = "replicate instead of reflect: reflect mirrors the pixels next to the edge"
VALUE_IGNORED = "fill value ignored: mode 'zeros' fills with `value`"
CIRCULAR_WRONG_END = "circular padding taken from the wrong end: the left border wraps around to the image's last columns (and the top border to its last rows), not its first"
EXTRA_PIXEL_BEFORE = "extra pixel on the wrong side: for an even kernel the padding is total // 2 before (left / top) and the rest after (right / bottom), as PyTorch's padding='same' does"
MODE_IGNORED = 'padding mode ignored: pad with `mode` (reflect, replicate, circular), not always with zeros'

# Channels and stacked filters.
BGR_NOT_RGB = "channel order reversed: the weights 0.299, 0.587, 0.114 belong to R, G, B in that order"
EQUAL_CHANNEL_WEIGHTS = "plain channel average: luminance weighs R, G, B by 0.299, 0.587, 0.114"
RELU_MISSING = "ReLU missing between the layers: apply relu to the first layer's output"
CONTRIBUTIONS_SUMMED = 'contributions summed: channel_contributions keeps one (Ho, Wo) map per channel; only conv2d_multichannel adds them up'
CHANNELS_FROM_DIM_1 = 'channels taken from dimension 1: the channels are dimension -3 of (..., 3, H, W), whatever comes before them'
BIAS_NOT_COUNTED = 'bias not counted: with bias=True the layer has one bias per output channel (+ c_out)'
INPUT_CHANNELS_NOT_COUNTED = 'input channels left out: each of the c_out kernels is (c_in, kh, kw), so the weight has c_out * c_in * kh * kw values'
BIAS_COUNTED_WITHOUT_BIAS = "bias counted with bias=False: a layer without bias has only the weight's parameters"
KERNELS_CONCATENATED = 'kernels concatenated, not stacked: stack them along a new first dimension (C_out)'
BIAS_AFTER_RELU = 'first bias added after the ReLU: the first layer is relu(conv(x, w1) + b1)'
RELU_AFTER_OUTPUT = 'ReLU applied to the output too: two_layer is conv, ReLU, conv, with no ReLU at the end'
MATLAB_GRAY_WEIGHTS = "MATLAB rgb2gray weights: 0.2989, 0.5870, 0.1140 are rgb2gray's rounded values (a near miss); BT.601 is exactly 0.299, 0.587, 0.114"
BIAS_PER_ROW = "bias added per row: bias[:, None] lines up with the rows (H), not the channels; reshape it to (1, C_out, 1, 1) so bias[c] goes to every value of output channel c"
INPUT_CAST_TO_FLOAT32 = "input cast to float32: .float() turns a float64 input into float32; keep the input's dtype and use the weight in it (weight.to(input.dtype))"
WEIGHT_DTYPE_KEPT = "weight's dtype kept: a float64 weight or kernel promoted the float32 input to float64; the result keeps the input's dtype, so use weight.to(input.dtype)"

# Initialisation.
FAN_OUT_NOT_FAN_IN = "fan_out instead of fan_in: mode='fan_in' divides by C_in * kh * kw"
FAN_SWAPPED = "fan_in and fan_out swapped: fan_in uses size(1), the input channels"
NO_RECEPTIVE_FIELD = "receptive field left out: multiply the channels by kh * kw"
GAIN_SQUARED = "gain used as a variance: std = gain / sqrt(fan), not gain**2 / fan"
NORMAL_NOT_UNIFORM = "normal instead of uniform: kaiming_uniform_ draws from U(-bound, bound)"
MISSING_SQRT3 = "missing sqrt(3): a uniform U(-b, b) has std b / sqrt(3), so bound = sqrt(3) * std"
SLOPE_NOT_SQUARED = 'negative slope not squared: the leaky_relu gain is sqrt(2 / (1 + slope**2))'
SLOPE_DEFAULT = 'wrong default slope: with param None the leaky_relu negative slope is 0.01'
A_IGNORED = '`a` ignored: pass the negative slope on, calculate_gain(nonlinearity, a)'
GENERATOR_IGNORED = 'generator ignored: draw with generator=generator, so the same seed gives the same values'
UNIFORM_NOT_NORMAL = 'uniform instead of normal: kaiming_normal_ draws from N(0, std^2)'
ARITHMETIC_ORDER = "right formula, last bits differ: compute in PyTorch's order, std = gain / math.sqrt(fan), then bound = math.sqrt(3.0) * std, to be identical bit for bit"
MODE_CASE = "mode is case-insensitive: 'FAN_OUT' means 'fan_out', as in PyTorch"
KAIMING_NOT_DEFAULT = "Kaiming's ReLU std instead of the default's: nn.Conv2d uses a=sqrt(5), gain sqrt(1/3), so std = 1 / sqrt(3 * fan_in), not sqrt(2 / fan_in)"
STD_BEFORE_RELU = "std taken before the ReLU: record the std of relu(conv(h)), the layer's output"
BIASED_STD = 'population std: use h.std(), the sample std that divides by n - 1'
EVEN_KERNEL_PADDING = 'even kernel padded on the wrong side: the extra row and column of padding go bottom and right'
SLOPE_IGNORED = "negative slope ignored: the leaky_relu gain is sqrt(2 / (1 + slope**2)) with param (kaiming's `a`) as the slope, 0.01 when None; sqrt(2) is the gain for slope 0, plain ReLU"
SQRT5_NOT_SQUARED = "sqrt(5) not squared: with a = sqrt(5) the gain is sqrt(2 / (1 + a**2)) = sqrt(2 / 6) = sqrt(1/3), so the default's bound is 1 / sqrt(fan_in) and its std 1 / sqrt(3 * fan_in)"
A_IS_5 = "a = 5 instead of sqrt(5): nn.Conv2d passes a = math.sqrt(5), so 1 + a**2 = 6 (not 26) and the default's std is 1 / sqrt(3 * fan_in)"
EVEN_KERNEL_SYMMETRIC = "even kernel padded symmetrically: k // 2 on both sides is one pixel too many for an even kernel (the output grows by one); pad total = d * (k - 1) in all, total // 2 before (left / top) and the rest after (right / bottom)"

# Backward.
COL2IM_OVERWRITES = "col2im overwrites instead of adding: a pixel under several windows was copied into each of their columns, so it gets the sum of their values (+=), not the last one written"
COL2IM_PADDING_KEPT = "padding not cut off: col2im returns the unpadded (N, C, H, W); what falls in the padding is dropped"
WEIGHT_GRAD_NOT_SUMMED = "weight gradient not summed over the batch: the same weight serves every image, so grad_weight adds up every image's part (a sum over n), not one image's or one per image"
WEIGHT_GRAD_AVERAGED = "gradient averaged over the batch: the backward pass of a convolution sums every image's part; a mean belongs to the loss, which already put its 1/N in grad_output"
KERNEL_NOT_FLIPPED = "kernel not flipped in the input gradient: the input's gradient is grad_output fully convolved with the kernel rotated by 180 degrees (W.T in the matrix picture); correlating with the kernel as it is gives another picture"
WEIGHT_RESHAPED_NOT_TRANSPOSED = "weight reshaped instead of transposed: the columns' gradient is W2.T @ grad_output with W2 = weight.reshape(C_out, C_in*kh*kw); W2.reshape(C_in*kh*kw, C_out) has the right shape but scrambles the weights"
BIAS_GRAD_NOT_SUMMED = "bias gradient not summed over the pixels: each bias is added to every pixel of its channel in every image, so grad_bias = grad_output.sum((0, 2, 3)), shape (C_out,)"
FORWARD_DIFFERENCE = "forward difference: (f(x + eps) - f(x)) / eps is only accurate to order eps; the central difference (f(x + eps) - f(x - eps)) / (2 * eps) is accurate to order eps**2"
EPS_NOT_DOUBLED = "divided by eps, not 2 * eps: the central difference spans from x - eps to x + eps, a step of 2 * eps"
PERTURBED_ALL_AT_ONCE = "every element perturbed at once: move one element at a time (x[i] + eps, the others as they are), else every entry is the same directional derivative"
EPS_IGNORED = "eps ignored: step by the eps passed in (the default 1e-6 only when none is given)"
REL_ERROR_MEAN = "mean instead of max: a gradient check must show one wrong element among many, so take the largest relative error"
REL_ERROR_ABSOLUTE = "absolute error: divide |a - b| by max(1e-8, |a| + |b|), so gradients of every size are held to the same standard"
REL_ERROR_MAX_DENOMINATOR = "divided by max(|a|, |b|): CS231n's denominator is |a| + |b| (floored at 1e-8)"
REL_ERROR_NO_FLOOR = "denominator not floored: max(1e-8, |a| + |b|) keeps two zeros from giving 0 / 0 = nan"

# Pooling.
POOL_STRIDE_ONE = "stride defaulting to 1: with stride=None a pooling steps by kernel_size (windows that tile the image), not by 1 as a convolution does"
MAX_POOL_ZERO_PADDING = "zero padding for max pooling: padding counts as -inf, so it never wins; with zeros a window of negative values returns 0 instead of its largest value"
PAD_NOT_COUNTED = "padding not counted (count_include_pad=False): with count_include_pad=True, PyTorch's default, every window is divided by kh*kw, its padding included"
LAST_MAX_ON_TIES = "last maximum on ties: when several pixels share a window's maximum, the first in row-major order (top row first, left to right) gets the gradient, as in PyTorch"
EVERY_MAX_ON_TIES = "every tied maximum gets the gradient: when several pixels share a window's maximum only the first in row-major order gets it (each output is one input pixel)"
GRAD_OVERWRITTEN = "gradients overwritten where windows overlap: a pixel that is the maximum of several windows receives the sum of their gradients; add them (scatter_add_, index_put_ with accumulate=True), do not assign"
RF_OWN_STRIDE = "strides multiplied including the current layer: layer i's taps are prod(s_j for j < i) input pixels apart; its own stride spaces only the layers after it"
RF_STRIDES_IGNORED = "strides ignored: after a layer of stride s the next layers' taps are s times further apart; multiply (k_i - 1) by the product of the earlier strides"
RF_KERNELS_ADDED = "kernel sizes added up: consecutive windows share their centre, so each layer adds k_i - 1 (times the spacing) to a field that starts at 1"


def symmetric_pad(x: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """Pad the last two dimensions by mirroring with the edge repeated (numpy's 'symmetric').

    The mistaken cousin of reflect padding; ``padding`` is (left, right, top, bottom).
    """
    left, right, top, bottom = padding
    width = x.shape[-1]
    x = torch.cat([x[..., :left].flip(-1), x, x[..., width - right :].flip(-1)], dim=-1)
    height = x.shape[-2]
    return torch.cat([x[..., :top, :].flip(-2), x, x[..., height - bottom :, :].flip(-2)], dim=-2)
