"""Open-source synthesis (YoWASP Yosys) and place and route (nextpnr) of a build folder, to
check the resource and timing estimates against real tools."""
