"""Short explanation panels of the Classroom lab, in our own words (one per operation)."""

from __future__ import annotations

from vizcore.lab.backward import ConvGradients, transpose_args
from vizcore.lab.settings import Op
from vizcore.lab.stepping import StepPlan

EXPLAIN = {
    Op.CONV: (
        "**Convolution** slides one small kernel over the input. At each position it multiplies "
        "the numbers under the window by the kernel's numbers (the *products*), adds them all up, "
        "adds one bias, and writes the result into one output cell. The **same kernel** is used at "
        "every position (parameter sharing), and each output cell only sees a small window (local "
        "connectivity). With colour, the kernel has one slice per channel: the three channel sums "
        "are added into **one** number. **Stride** jumps the window by more than one cell (smaller "
        "output); **padding** adds a border of zeros (blue cells) so the edges get visited too; "
        "**dilation** spreads the kernel taps apart to see further with the same number of weights. "
        "An optional **ReLU** then keeps positives and turns negatives into 0."
    ),
    Op.DEPTHWISE: (
        "**Depthwise (grouped) convolution** gives every input channel its **own** kernel and keeps "
        "the channels apart: the red output only ever sees red input, and so on (groups = number of "
        "channels). It costs a fraction of a normal convolution; MobileNet and EfficientNet follow "
        "it with a 1×1 convolution to mix the channels (*depthwise separable*)."
    ),
    Op.TRANSPOSED: (
        "**Transposed convolution** makes a feature map **bigger** (decoders, segmentation, GANs). "
        "It is the same as an ordinary stride-1 convolution over a stretched input: `stride − 1` "
        "zeros are inserted between the pixels (yellow cells), a border of `d(k−1) − p` zeros is "
        "added (blue), and the kernel is flipped 180°. That is also how gradients flow backwards "
        "through a normal convolution. **Output padding** adds that many extra cells at the bottom "
        "and right only (blue): a 3×3, stride-2, padding-1 convolution shrinks both 7 and 8 cells "
        "to 4, so the upsampling has to be told which size to give back. It must be smaller than "
        "the stride (or the dilation)."
    ),
    Op.MAX: (
        "**Max pooling** keeps only the largest number in each window (the ★ winner). It shrinks "
        "the map, keeps the strongest evidence and tolerates small shifts — but throws away where "
        "exactly inside the window it was. **Padding** (at most half the window) adds a border of "
        "**−∞** (blue cells), not zeros, so a padding cell never wins and edge windows simply pick "
        "their largest real number. **Backward**: the gradient of a window goes **only to its "
        "winner**; every other cell gets 0 (padding never gets any)."
    ),
    Op.AVG: (
        "**Average pooling** replaces each window by its mean: a kernel of equal weights 1/k². It is "
        "smoother than max pooling and keeps some information from every cell. **Padding** (at "
        "most half the window) adds a border of **zeros** (blue cells) that **count** in the mean "
        "(torch's default, `count_include_pad=True`): an edge window still divides by k², so edges "
        "get darker. **Backward**: each window's gradient is **split equally** among its k² cells; "
        "the shares that land on padding are dropped."
    ),
    Op.GAP: (
        "**Global average pooling** averages the **whole** map into one number per channel. Modern "
        "CNNs (ResNet, EfficientNet) use it before the classifier instead of big fully connected "
        "layers: no parameters, and any input size works. **Backward**: every cell gets 1/(H·W) of "
        "the gradient."
    ),
}

START = ("**Start simple:** a grey region and a classic edge detector (Sobel x). Press ▶ play and "
         "watch the window slide. Then pick **Kernel → learned filter** to see a real filter the "
         "network learned.")

LEARNED = ("**Where the learned numbers come from.** In the model this convolution is followed by "
           "**BatchNorm**, which at inference time is just a fixed scale and shift per filter: "
           "y = γ·(x − μ)/√(σ² + ε) + β. Because a convolution is linear, we *fold* it in: each "
           "weight is multiplied by γ/√(σ² + ε) and the bias becomes β − μ·γ/√(σ² + ε). The "
           "folded filter gives exactly the numbers the network computes after its first "
           "BatchNorm. Untick *Fold the BatchNorm* to see the raw weights.")

GRID_LEGEND = ("Blue cells = padding (zeros; −∞ for max pooling) · yellow cells = zeros inserted "
               "by a transposed convolution · orange-and-black boxes = the window (with dilation "
               "the taps are separate cells) · grey output cells are not computed yet.")

BACKWARD = ("The upstream gradient here is made up (1, 2, 3, … one per output cell) so you can "
            "follow every number. Each step takes one output cell's gradient and sends it back "
            "through the pooling window; overlapping windows add up.")

CONV_BACKWARD = (
    "**Backward through a convolution** is the same window picture run backwards. Each output "
    "cell y read a window of inputs and used the kernel's weights; now it receives its gradient "
    "**g = ∂L/∂y** and sends **g × weight** back to every input cell it read, **g × input** to "
    "every weight it used, and **g** to the bias. Overlapping windows add up:\n\n"
    "- **∂L/∂w** — the same kernel is used at every position, so each weight collects from "
    "**every** window: Σ of g × the input under that tap (a *correlation* of the input with g), "
    "one number per weight.\n"
    "- **∂L/∂x** — each input cell collects g × weight from every window that covered it (hover a "
    "cell: how many). Doing that for all cells at once means sliding the **180°-flipped** kernel "
    "over g with a border of zeros (a *full* convolution) — which is exactly this lab's "
    "**transposed convolution**: the forward pass shrank the grid, its gradient grows it back. "
    "What lands on **padding** is dropped: padding is a constant zero, not an input.\n"
    "- **∂L/∂b** — the bias is added to every output cell, so it gets Σ g.\n\n"
    "Pick **one output cell** to see exactly what it depended on: ∂L/∂w becomes the patch of "
    "input it read, ∂L/∂x the kernel placed on its window, everything else 0."
)

CONV_BACKWARD_NOTE = ("Grey italic numbers on blue padding cells: gradient that arrives there and is "
                      "dropped. Hover a cell for how many windows it collected from.")


def gradient_summary(plan: StepPlan, grads: ConvGradients, names: tuple[str, ...],
                     cell: tuple[int, int, int] | None, *, relu: bool = False) -> str:
    """Two markdown lines above the convolution backward figure: which g and ∂L/∂b; the transposed
    convolution that gives ∂L/∂x (with this plan's numbers)."""
    if cell is None:
        what = "**g = 1** at every output cell (L = the sum of all outputs)"
    else:
        of = f" of channel {names[cell[0]]}" if plan.output.shape[0] > 1 else ""
        what = f"**g = 1 only at output row {cell[1] + 1}, col {cell[2] + 1}**{of}, 0 elsewhere"
    gb = grads.grad_bias
    bias = (f"**∂L/∂b** = Σ g = **{gb[0]:.4g}**" if len(gb) == 1 else "**∂L/∂b** = Σ g per channel: "
            + " · ".join(f"{names[o]} **{v:.4g}**" for o, v in enumerate(gb)))
    ta = transpose_args(plan)
    bridge = "" if ta is None else (
        f"  \n**∂L/∂x** = this lab's *transposed convolution* of g with the same kernel "
        f"(stride {ta.stride[0]}, padding {ta.padding[0]}, output padding {ta.output_padding[0]}, "
        f"dilation {ta.dilation[0]})")
    note = " · The gradient starts at the convolution's output, before the ReLU." if relu else ""
    return f"{what} · {bias}{note}{bridge}"
