"""Plain-words explanations of the Adversarial page (pure strings; no Streamlit)."""

from __future__ import annotations

from vizcore.adversarial import METHODS, AttackResult
from vizcore.adversarial.metrics import Distortion

INTRO = (
    "A change too small to see can flip a confident prediction. The attack asks the network itself "
    "which way each pixel should move to hurt the current answer (the gradient of the loss with respect "
    "to the *input*, not the weights), moves every pixel by at most **ε** in that direction, and repeats. "
    "ε is counted in 8-bit levels: 2/255 means no colour value changes by more than 2 out of 255.")

DEFENCES = (
    "**Input transformations** try to wash the perturbation out before the network sees it. Each is "
    "applied to the adversarial image *and* to the clean one: a defence that also breaks clean photos "
    "is not free. **Recovered** = the defended prediction is the original class again. The attack was "
    "made without knowing about the defence; an attacker who knows it attacks *through* it — "
    "**BPDA** (the forward pass uses the real defence, the backward pass pretends it is the identity) "
    "for JPEG and bit depth, plain gradients for blur and median, and **EOT** (average the gradient "
    "over many random draws) for random resize-and-pad. If that breaks it again, the defence only hid "
    "the gradient; it did not make the network robust. Adversarial training and certified defences "
    "(randomised smoothing) change the model itself and are beyond this page.")


def explanation(r: AttackResult, d: Distortion, names: tuple[str, ...]) -> str:
    """What happened, in words, with the numbers of this attack."""
    before, after = names[r.source], names[r.pred]
    p0, p1 = 100 * r.clean_probs[r.source], 100 * r.probs[r.pred]
    how = (f"{METHODS[r.method]} took {r.steps} step{'s' if r.steps > 1 else ''} of "
           f"{255 * r.step_size:.2g}/255 within ε = {255 * r.eps:g}/255")
    size = (f"The largest change to any colour value is {d.linf:.1f} levels of 255; PSNR {d.psnr:.1f} dB "
            f"and SSIM {d.ssim:.4f} say the two pictures are practically identical to the eye")
    if r.method == "targeted" and r.target is not None:
        goal = f"make the network say **{names[r.target]}**"
        outcome = (f"It worked: the network now says **{after}** with {p1:.1f}%." if r.success else
                   f"It did not reach the target: the network now says **{after}** ({p1:.1f}%). Raise ε or "
                   "the number of steps.")
    else:
        goal = f"push the network away from **{before}**"
        outcome = (f"It worked: the network now says **{after}** with {p1:.1f}% (it said {before} with "
                   f"{p0:.1f}%)." if r.success else
                   f"It held: the network still says **{after}** ({p1:.1f}%). Raise ε or the steps.")
    return (f"**What happened.** The attack tried to {goal}. {how}. {outcome}\n\n**How big is the change?** "
            f"{size}. The middle picture shows the change amplified; without amplification you would "
            "see nothing.\n\n**Why does it work?** The network adds up tiny contributions from 150 000 "
            "input values. Nudging every one of them slightly in the harmful direction adds up to a big "
            "change of the class scores — the network is close to linear along that direction "
            "(Goodfellow et al. 2015). **Where does it look now?** The Grad-CAMs below show which "
            "regions support each class before and after: the evidence often moves or fades although "
            "the photo did not visibly change.")
