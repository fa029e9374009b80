"""A compiled program: layer instructions, weight and bias bank contents, and where every
tensor lives in the activation memory (``docs/hardware.md``)."""

from dataclasses import dataclass, field

import numpy as np

from ..errors import FpgagenError
from ..hw.cost import decode_stall, mac_utilization
from ..hw.params import HwParams
from ..hw.spec import ACT_LANE_BITS, weight_operand_bits
from ..hw.isa import Instr, Opcode, pack_flash_instruction, pack_instruction
from ..hw.weight_stream import tile_cycles

__all__ = ["TensorPlacement", "TensorWrite", "LayerInfo", "Im2col", "CompressedWeights", "Program"]


@dataclass(frozen=True)
class TensorPlacement:
    """Where a tensor's codes live in the activation memory.

    Channel ``ch`` of pixel ``(y, x)`` is lane ``positions[ch] % L`` of word
    ``base + (y * w + x) * pixel_groups + group_offset + positions[ch] // L``.

    Attributes
    ----------
    name : str
        The tensor.
    base : int
        First word of the buffer holding the tensor (a concat's inputs share their
        concat's buffer and base).
    h, w : int
        Height and width in pixels.
    pixel_groups : int
        Words per pixel of the buffer (``P``).
    group_offset : int
        First group of the buffer that belongs to this tensor (concat inputs after the
        first).
    channels : int
        Number of channels ``C``.
    groups : int
        Groups (words per pixel) this tensor spans, from ``group_offset``.
    positions : tuple of int
        Lane position of every channel counted from the tensor's first group: ``ch`` for a
        plain tensor, with gaps for a concat of inputs whose channels are not multiples of
        ``L``. Positions not listed hold code 0.
    """

    name: str
    base: int
    h: int
    w: int
    pixel_groups: int
    group_offset: int
    channels: int
    groups: int
    positions: tuple[int, ...]
    rows: int = 0

    def __post_init__(self):
        if self.rows == 0:
            object.__setattr__(self, "rows", self.h)

    @property
    def whole(self) -> bool:
        """The buffer keeps every row of the tensor (else a ring of :attr:`rows` rows: row
        ``y`` in slot ``y mod rows``)."""
        return self.rows >= self.h

    @property
    def words(self) -> int:
        """Words of the buffer, ``rows * w * pixel_groups``."""
        return self.rows * self.w * self.pixel_groups

    @property
    def end(self) -> int:
        """One past the buffer's last word."""
        return self.base + self.words


@dataclass(frozen=True)
class TensorWrite:
    """Rows ``lo .. hi - 1`` of ``tensor`` that an instruction completes, for reading them
    back as they are written (a ring soon overwrites them)."""

    tensor: str
    lo: int
    hi: int


@dataclass(frozen=True)
class LayerInfo:
    """What one instruction does, for listings, the cycle model and tests.

    Attributes
    ----------
    name : str
        The graph node lowered into the instruction.
    opcode : Opcode
    macs : int
        Multiply-accumulates of the node (real channels only; 0 for pooling and add).
    cycles_predicted : int
        :func:`fpgagen.hw.cost.instruction_cycles` of the instruction (for a compressed
        CONV plus its decoder stall, :meth:`CompressedWeights.stall`).
    output : str
        The tensor the instruction writes (for GAP: the streamed scores).
    writes : tuple of TensorWrite
        The tensor rows the instruction completes.
    """

    name: str
    opcode: Opcode
    macs: int
    cycles_predicted: int
    output: str
    writes: tuple[TensorWrite, ...] = ()


@dataclass(frozen=True)
class Im2col:
    """The first convolution folded into the input packing: the input tensor holds, per
    output pixel of that convolution, its ``kh * kw * channels`` window codes ordered
    ``(ky, kx, c)`` (zero padding included)."""

    conv: str  #: the convolution node lowered as 1x1
    channels: int  #: channels of the image
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass
class CompressedWeights:
    """The stored form of a program's compressed layers (:mod:`fpgagen.hw.weight_stream`);
    their index streams are words of the weight banks.

    Attributes
    ----------
    masks : np.ndarray
        int64 ``(pe_cols, depth)``: the mask banks, one ``pe_rows``-bit word per tile word.
    starts : np.ndarray
        int64 ``(pe_cols, bias_depth, 2)``: per bias entry (output group), the weight-bank
        word and item where the group's indices begin (0 for dense layers).
    codebook : np.ndarray
        int64 ``(depth,)``: every compressed layer's codebook, ``2**index_bits`` slots each.
    tile_depth : int
        Words of the largest tile (``kh * kw * in_groups``): each tile buffer holds two.
    """

    masks: np.ndarray
    starts: np.ndarray
    codebook: np.ndarray
    tile_depth: int

    @property
    def mask_depth(self) -> int:
        """Words per mask bank."""
        return int(self.masks.shape[1])

    def stall(self, f: Instr, lanes: int, memo: dict | None = None) -> int:
        """Cycles the compressed CONV ``f`` waits for its decoder
        (:func:`fpgagen.hw.cost.decode_stall` of its masks and stream starts). ``memo``:
        a dict kept between calls on these weights, so that the decoding cycles of each
        tile are counted once (the bands of a layer share them)."""
        key = (f.weight_base, f.bias_base, f.kh, f.kw, f.in_groups, f.out_groups, lanes)
        if memo is None or key not in memo:
            tile = f.kh * f.kw * f.in_groups
            cols = self.masks.shape[0]
            work = [max(tile_cycles(self.masks[c, f.weight_base + k * tile:
                                               f.weight_base + (k + 1) * tile], lanes)
                        for c in range(cols))
                    for k in range(f.out_groups)]
            found = work, [int(v) for v in self.starts[:, f.bias_base, 1]]
            if memo is None:
                return decode_stall(f, *found)
            memo[key] = found
        return decode_stall(f, *memo[key])


@dataclass
class Program:
    """A compiled network for one :class:`HwParams`.

    Attributes
    ----------
    hw : HwParams
    instructions : list of Instr
        The instructions in execution order; the last one has ``last`` set.
    layers : list of LayerInfo
        One per instruction.
    weight_banks : np.ndarray
        int16 ``(pe_cols, depth, pe_rows)``: word ``a`` of bank ``c``, lane ``r``.
    bias_banks : np.ndarray
        int64 ``(pe_cols, depth)``: bias of the output channel at that bank entry.
    shift_banks : np.ndarray
        int64 ``(pe_cols, depth)``: its rounding shift.
    act_depth : int
        Words of activation memory the program uses.
    input : TensorPlacement
        The streamed input tensor (im2col-packed when ``im2col`` is set).
    tensors : dict
        ``{tensor name: TensorPlacement}`` of every tensor held in the activation memory
        (the input, every conv, max pool, add and concat output).
    output_channels : int
        Scores streamed out by the final GAP (0 when the program has none).
    im2col : Im2col or None
        How the input is packed for the first convolution, if it is.
    outputs : list of str
        The graph's output tensors.
    name : str
        The network's name.
    weight_bits : int
        Width of the stored weight codes (4..8): a weight bank word is ``pe_rows *
        weight_bits`` bits.
    act_lane_bits : int
        Width of an activation lane (:func:`~fpgagen.hw.spec.act_lane_bits` of the
        graph's ``activation_bits``; 9 for 8-bit activations): an activation word is
        ``pe_rows * act_lane_bits`` bits.
    pool_depth : int
        Words of pool-state memory the fused max pools use (0: none).
    unstored : frozenset of str
        Tensors the program computes but never holds whole: the input of a fused max pool
        (only the pooling unit sees it) and the conv before the GAP when it runs in
        channel chunks.
    plan : ActivationPlan or None
        How the activation memory is used: per tensor, rows kept and words, whole or in
        row bands (see :mod:`fpgagen.schedule.bands`).
    compressed : CompressedWeights or None
        Masks, stream starts and codebooks of the compressed layers (``None``: every layer
        is dense).
    direct_codebook : np.ndarray or None
        int64 ``(depth,)``: the codebooks of the direct codebook layers (weights in
        flash, :mod:`fpgagen.hw.direct_codebook`), ``2**index_bits`` slots each at their
        instructions' ``codebook_base``; their weight-bank lanes hold indices.
    flash : FlashStore or None
        With ``hw.weight_store = "flash"``: the flash image, the load fields of every
        instruction and the staging memories (:mod:`fpgagen.schedule.flash_store`); the
        CONV instructions then address the staging memories, and the banks above are the
        image's source. ``None``: the weights are read from the banks.
    """

    hw: HwParams
    instructions: list[Instr]
    layers: list[LayerInfo]
    weight_banks: np.ndarray
    bias_banks: np.ndarray
    shift_banks: np.ndarray
    act_depth: int
    input: TensorPlacement
    tensors: dict[str, TensorPlacement]
    output_channels: int
    im2col: Im2col | None = None
    outputs: list[str] = field(default_factory=list)
    name: str = ""
    weight_bits: int = 8
    act_lane_bits: int = ACT_LANE_BITS
    pool_depth: int = 0
    plan: object = None
    unstored: frozenset = frozenset()
    compressed: CompressedWeights | None = None
    flash: object = None
    direct_codebook: np.ndarray | None = None

    def words(self) -> list[int]:
        """The packed instructions (the schedule ROM's contents; with weights in flash,
        each with its load fields above)."""
        if self.flash is not None:
            return [pack_flash_instruction(f, l)
                    for f, l in zip(self.instructions, self.flash.loads)]
        return [pack_instruction(f) for f in self.instructions]

    @property
    def input_words(self) -> int:
        """Words the host streams in: every row of the input tensor (its buffer may keep
        fewer, as a ring)."""
        return self.input.h * self.input.w * self.input.pixel_groups

    @property
    def weight_depth(self) -> int:
        """Words per weight bank."""
        return int(self.weight_banks.shape[1])

    @property
    def score_groups(self) -> int:
        """Words of ``pe_rows`` scores the GAP writes (0 when the program streams none)."""
        return -(-int(self.output_channels) // self.hw.pe_rows)

    @property
    def bias_depth(self) -> int:
        """Entries per bias bank."""
        return int(self.bias_banks.shape[1])

    @property
    def cycles_predicted(self) -> int:
        """Predicted cycles of the whole program."""
        return sum(l.cycles_predicted for l in self.layers)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole program."""
        return sum(l.macs for l in self.layers)

    @property
    def bank_instructions(self) -> list[Instr]:
        """The instructions with their bank addresses: :attr:`instructions`, or with the
        weights in flash (whose CONVs address the staging halves) the ones before staging
        (``flash.bank_instructions``)."""
        return self.flash.bank_instructions if self.flash is not None else self.instructions

    def weight_start(self, f: Instr) -> int:
        """The first weight-bank word the CONV ``f`` reads: its ``weight_base``, or for a
        compressed one the word where its index stream starts. ``f`` carries bank
        addresses: with the weights in flash, one of :attr:`bank_instructions`."""
        if f.compressed and self.compressed is not None:
            return int(self.compressed.starts[0, f.bias_base, 0])
        return int(f.weight_base)

    def weight_storage(self) -> dict:
        """Bytes the weights take on chip: ``weight_banks`` (dense words and index
        streams, padding included), ``masks`` and ``codebooks`` (entries of
        :func:`~fpgagen.hw.spec.weight_operand_bits`) of the compressed layers, and their
        ``total``.

        With the weights in flash: ``flash`` (the bytes of the flash image's blocks: weights
        or masks and indices, the codebooks, and the bias words, each chunk's columns padded
        alike; the image also holds the schedule, which is not counted here) and its
        ``total``; ``weight_banks``, ``masks`` and ``codebooks`` are 0 (the staging RAMs and
        codebook registers hold no weights of their own, and there is no codebook ROM)."""
        hw = self.hw
        cw = self.compressed
        # codebook entries are as wide as the multipliers' weight operand (8 bits, or more)
        codebooks = (len(cw.codebook) * weight_operand_bits(int(self.weight_bits)) // 8
                     if cw is not None else 0)
        if self.flash is not None:
            flash = 4 * (len(self.flash.image) - self.flash.schedule_flash_words)
            return {"weight_banks": 0, "masks": 0, "codebooks": 0, "flash": flash,
                    "total": flash}
        banks = self.weight_depth * hw.pe_rows * hw.pe_cols * int(self.weight_bits) // 8
        masks = cw.mask_depth * hw.pe_rows * hw.pe_cols // 8 if cw is not None else 0
        return {"weight_banks": banks, "masks": masks, "codebooks": codebooks,
                "total": banks + masks + codebooks}

    def placement(self, tensor: str) -> TensorPlacement:
        """Where ``tensor`` lives; raises :class:`FpgagenError` for a tensor that is not in
        the activation memory."""
        try:
            return self.tensors[tensor]
        except KeyError:
            raise FpgagenError(f"tensor {tensor!r} is not held in the activation memory of "
                               f"program {self.name!r}; known: {sorted(self.tensors)}") from None

    def listing(self) -> str:
        """Readable program text: a header, then one line per instruction with its main
        fields, then the totals."""
        hw = self.hw
        lines = [f"# {self.name or 'program'} on {hw.pe_rows}x{hw.pe_cols} PEs: "
                 f"{len(self.instructions)} instructions, act memory {self.act_depth} words, "
                 f"weight banks {self.weight_depth} words, bias banks {self.bias_depth}, "
                 f"input {self.input_words} words at {self.input.base}"
                 + (f" (im2col of {self.im2col.conv})" if self.im2col else "")]
        for i, (f, info) in enumerate(zip(self.instructions, self.layers)):
            op = f.op
            k = f"k{f.kh}x{f.kw}"
            if op in (Opcode.CONV, Opcode.MAXPOOL):
                k += f" s{f.stride_h}x{f.stride_w} p{f.pad_h}x{f.pad_w}"
            text = (f"{i:3d} {op.name:<7} {info.name:<28} "
                    f"in @{f.in_base:<6d} {f.in_h}x{f.in_w}x{f.in_groups}g"
                    f"/P{f.in_pixel_groups} {k:<16} -> ")
            if op == Opcode.GAP and not f.gap_store:
                text += (f"stream {f.out_channels} scores ({f.out_groups}g) "
                         f"mult {f.multiplier} >>{f.shift}")
            elif f.to_scores:
                text += (f"scores+{f.out_group_offset} {f.out_groups}g "
                         f"(stream {f.out_channels})")
            else:
                text += (f"@{f.out_base:<6d} {f.out_h}x{f.out_w}x{f.out_groups}g"
                         f"/P{f.out_pixel_groups}+{f.out_group_offset}")
            if op == Opcode.CONV:
                text += f" w@{f.weight_base} b@{f.bias_base}"
                if f.compressed:
                    text += f" idx{f.index_bits}@{f.codebook_base}"
                text += " relu" if f.relu else ""
            if op == Opcode.ADD:
                text += (f" in2 @{f.in2_base} (a<<{f.shift_a}) + (b<<{f.shift_b}) "
                         f">>{f.shift}")
                text += " relu" if f.relu else ""
            text += (f" {'s' if f.out_signed else 'u'}{f.out_bits}"
                     f" {info.cycles_predicted} cyc")
            if info.macs:
                util = mac_utilization(info.macs, info.cycles_predicted, hw)
                text += f" {100 * util:.0f}%"
            if f.last:
                text += " last"
            lines.append(text)
        cycles, macs = self.cycles_predicted, self.macs
        lines.append(f"# total {macs} MACs, {cycles} cycles predicted, MAC utilization "
                     f"{100 * mac_utilization(macs, cycles, hw):.1f}%")
        return "\n".join(lines)
