"""A graph holding one instance of every layer kind the accelerator runs, each reading a
stem tensor whose channel count is (``stem16``) or is not (``stem12``) a multiple of the
array size, so that one hardware build checks them all."""

from fpgagen.nets.builder import GraphBuilder

#: ``name: (source, out_channels, kernel, stride, pad, relu)`` of the single conv layers.
CONV_CASES = {
    "k1s1p0_c16": ("stem16", 16, 1, 1, 0, True),
    "k1s2p0_c10": ("stem12", 10, 1, 2, 0, True),
    "k3s1p1_c24": ("stem12", 24, 3, 1, 1, True),
    "k3s2p0_c16": ("stem16", 16, 3, 2, 0, True),
    "k3s2p1_c19_signed": ("stem12", 19, 3, 2, 1, False),
    "k5s1p2_c8": ("stem16", 8, 5, 1, 2, True),
    "k5s2p0_c13": ("stem12", 13, 5, 2, 0, True),
    "k7s2p3_c16": ("stem12", 16, 7, 2, 3, True),
    "k7s1p0_c5_signed": ("stem16", 5, 7, 1, 0, False),
}
#: Tensors checked besides the conv cases, with what they exercise.
OTHER_CASES = {
    "pool_c12": "max pool 3x3/2 ceil mode, 12 channels",
    "pool_c16": "max pool 3x3/2 ceil mode, 16 channels",
    "pool_signed": "max pool of a signed tensor",
    "fire/squeeze": "fire squeeze 1x1",
    "fire/expand1x1": "fire expand 1x1 into the first half of the concat buffer",
    "fire/expand3x3": "fire expand 3x3 into the second half",
    "fire/concat": "concat of 7 + 10 channels (gappy lanes)",
    "after_concat": "1x1 conv reading the gappy concat",
    "bypass_a": "conv feeding a bypass add",
    "bypass": "element-wise add of two tensors",
    "bypass_conv": "conv reading the add",
}


def layer_zoo(size: int = 15):
    """The graph (float, no weights): input ``3 x size x size``; ends with a global average
    pool over ``bypass_conv``."""
    b = GraphBuilder("layer_zoo", (3, size, size))
    s16 = b.conv("stem16", "data", 16, 1)
    s12 = b.conv("stem12", s16, 12, 1)
    for name, (src, oc, k, s, p, relu) in CONV_CASES.items():
        b.conv(name, src, oc, k, s, p, relu=relu)
    b.maxpool("pool_c12", s12)
    b.maxpool("pool_c16", s16)
    b.maxpool("pool_signed", "k3s2p1_c19_signed")
    sq = b.conv("fire/squeeze", s12, 6, 1)
    e1 = b.conv("fire/expand1x1", sq, 7, 1)
    e3 = b.conv("fire/expand3x3", sq, 10, 3, padding=1)
    cat = b.concat("fire/concat", e1, e3)
    b.conv("after_concat", cat, 12, 1)
    a = b.conv("bypass_a", s12, 12, 3, padding=1)
    add = b.add("bypass", a, "after_concat")
    conv = b.conv("bypass_conv", add, 20, 1)
    gap = b.global_avgpool("gap", conv)
    return b.build([gap])
