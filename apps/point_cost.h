// Relative cost of evaluating a study point, from its config alone, to hand out the costliest
// points first (a long point started last would leave the other ranks idle at the end).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/config.h"
#include "apps/study_spec.h"

namespace xbar {

// ADC conversions per weight per input vector, up to a constant: input slices (bit-serial DAC:
// ceil(magnitude bits / dac.slice_bits), else 1) x weight slices (ceil((weight_bits - 1) /
// cell_bits), else 1) x arrays per slice (2 differential, 1 offset) x 256 / tile_rows (row tiles).
double point_cost(const XbarConfig& c);

// Indices of `todo` ordered by descending point_cost of their config; ties keep definition order.
std::vector<int64_t> costliest_first(const StudySpec& s, const Policy& base, const std::vector<StudyPoint>& todo);

}  // namespace xbar
