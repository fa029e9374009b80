"""Hardware parameters and the cycle model of the accelerator."""

from .cost import PIPELINE_OVERHEAD, instruction_cycles, mac_utilization
from .params import PE_SIZES, HwParams

__all__ = ["HwParams", "PE_SIZES", "PIPELINE_OVERHEAD", "instruction_cycles",
           "mac_utilization"]
