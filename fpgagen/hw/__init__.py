"""What the hardware is: the datapath widths and word formats (``spec``), the pipeline
latencies (``timing``), the instruction set (``isa``), the PE array (``params``) and the
cycle model (``cost``). Nothing here imports the compiler, the gateware or the fit."""

from .cost import PIPELINE_OVERHEAD, instruction_cycles, mac_utilization
from .params import PE_SIZES, HwParams

__all__ = ["HwParams", "PE_SIZES", "PIPELINE_OVERHEAD", "instruction_cycles",
           "mac_utilization"]
