"""The key idea of each family, in our own words (numbers on the page are computed, not written here)."""

from __future__ import annotations

IDEAS: dict[str, tuple[str, str]] = {
    "LeNet": ("Convolution + subsampling, learned end to end",
              "Small 5×5 filters shared across the whole image find the same stroke anywhere; "
              "average-pool subsampling shrinks the map so later layers see more of the digit. "
              "Everything, from filters to the classifier, is trained by backpropagation."),
    "AlexNet": ("Go big, go deep, use ReLU and a GPU",
                "An 11×11 filter with stride 4 cuts the 224×224 photo to 55×55 in one step, which is "
                "what made a deep network affordable in 2012. ReLU instead of tanh trains several "
                "times faster; dropout and data augmentation kept 60 M parameters from overfitting."),
    "VGG": ("Only 3×3 convolutions, stacked",
            "Two 3×3 convolutions see a 5×5 window, three see 7×7 — with fewer weights than the "
            "large kernel and a non-linearity between each. VGG uses nothing else, doubling the "
            "channels after every pooling, which makes it simple, deep and very expensive."),
    "Inception": ("Four branches side by side, kept cheap with 1×1 bottlenecks",
                  "The module looks at the same input with 1×1, 3×3 and 5×5 filters and a pooling "
                  "branch, then stacks the results along channels, so the next layer picks the "
                  "scale it needs. A 1×1 convolution first shrinks the channels, which is what "
                  "makes the large filters affordable. (torchvision's GoogLeNet uses 3×3 in the "
                  "branch the paper drew as 5×5; the saving is priced for both.)"),
    "ResNet": ("Learn a change, add it to the input",
               "Each block computes a correction F(x) and outputs x + F(x). The identity path has no "
               "weights, so a very deep network can start as \"do nothing\" and gradients reach the "
               "first layers unchanged. Deeper ResNets use a bottleneck: 1×1 to fewer channels, 3×3, "
               "1×1 back up."),
    "DenseNet": ("Every layer sees every earlier layer",
                 "Inside a dense block each layer receives the concatenation of the block input and "
                 "all previous layers' outputs, and adds only a few new channels (the growth rate). "
                 "Features are reused instead of relearned; a 1×1 bottleneck keeps the 3×3 cheap "
                 "once the concatenated input gets wide."),
    "MobileNet": ("Depthwise separable convolutions in inverted residuals",
                  "A depthwise convolution filters each channel on its own; a 1×1 then mixes "
                  "channels. Together they replace a standard convolution at a fraction of the cost. "
                  "MobileNetV2 widens the thin input with a 1×1 (expansion), filters depthwise, then "
                  "projects back down, with the skip between the thin ends. V3 adds squeeze-excitation "
                  "and hard-swish."),
    "EfficientNet": ("MBConv + squeeze-excitation, scaled in three directions at once",
                     "The block is MobileNetV2's inverted residual plus a squeeze-excitation gate: a "
                     "global average of each channel passes through two tiny 1×1 layers and a "
                     "sigmoid that rescales the channels. Compound scaling grows depth, width and "
                     "input resolution together by fixed ratios (B0 → B7). Lite0 drops SE and uses "
                     "ReLU6 so it runs well on phones."),
    "ConvNeXt": ("A ResNet modernised with a Transformer's habits",
                 "One 7×7 depthwise convolution mixes space, then a LayerNorm and an MLP that widens "
                 "4× and narrows again mixes channels, like a Transformer block. Patchify stem, GELU, "
                 "fewer norms and a learned per-channel layer scale complete the recipe."),
}

GENERIC = ("The whole network",
           "No reference block is defined for this family, so the whole network is drawn from its "
           "traced graph.")


def idea(family: str) -> tuple[str, str]:
    """(headline, explanation) for ``family``."""
    return IDEAS.get(family, GENERIC)
