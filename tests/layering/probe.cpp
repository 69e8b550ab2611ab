// Layering probe: compiled as part of layer PROBE_LAYER while including a header of the layer
// above it (PROBE_HEADER). tests/CMakeLists.txt expects the build to fail with "No such file".
#include PROBE_HEADER
