"""Board tops and the bitstream build/report flow (amaranth-boards + YoWASP)."""
