// Exact IR-drop solve by nested dissection of the crossbar's node network.
//
// The network (2 R C internal nodes plus R source and C ground terminals) is cut recursively into
// rectangles of cells. Each rectangle is represented by the Laplacian of its Kron reduction
// (Schur complement) onto its ports: the midpoints of the wire segments its edges cut (half a
// segment on each side), or the source / ground terminals on the left / bottom edges. Two
// neighbours merge by identifying their shared midpoints and eliminating them with one dense
// Cholesky; at the root only the terminals remain and M_ij = -K(source_i, ground_j).
// Cost is that of nested dissection on a grid plus the terminals carried along the left and
// bottom edges: about 1e9 flops for 256 x 256, dense BLAS-3 work, no iteration, no tolerance.
//
// Accuracy: every Laplacian keeps all terminals, so its rows sum to zero exactly; after each
// elimination the diagonal is rebuilt as minus the off-diagonal sum (the GTH trick). Off-diagonal
// updates (forward substitution and Y^T Y) add same-signed terms (M-matrices), so only the
// Cholesky pivots subtract; measured agreement with independent solves is ~1e-13 relative.
// Zero resistances merge nodes (union-find in the leaves, identification in merges), so r = 0
// is exact, not approximated by a huge conductance.
#include "circuits/parasitics.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <string>

#include "common/error.h"

namespace xbar {

const std::vector<Field<WireConfig>>& WireConfig::fields() {
  using W = WireConfig;
  static const std::vector<Field<W>> f = {
      {"r_row_ohm", "ohm", "row (word line) wire resistance per cell segment", &W::r_row_ohm, 0, 1e9},
      {"r_col_ohm", "ohm", "column (bit line) wire resistance per cell segment", &W::r_col_ohm, 0, 1e9},
      {"r_source_ohm", "ohm", "row driver output resistance, in series with the first row segment", &W::r_source_ohm, 0, 1e9},
      {"r_sense_ohm", "ohm", "column sense-amplifier input resistance, in series with the last column segment", &W::r_sense_ohm, 0, 1e9},
  };
  return f;
}

void WireConfig::validate() const { check_fields(*this); }

namespace {

using Eigen::MatrixXd;
constexpr double kShort = std::numeric_limits<double>::infinity();

double conductance(double r) { return r > 0 ? 1.0 / r : kShort; }

struct Rect {
  int i0, i1, j0, j1;  // cells [i0, i1) x [j0, j1)
  int rows() const { return i1 - i0; }
  int cols() const { return j1 - j0; }
};

// Storage for the dense blocks of one solve. Merges free their children's matrices and allocate
// slightly larger ones; fresh pages from the OS (a fault per 4 KiB) cost more than the arithmetic
// of the many small merges. So buffers come from large slabs (advised for transparent huge pages)
// and freed buffers are reused, best fit. A pool's slabs live until the pool is destroyed.
struct Buffer {
  double* data = nullptr;
  size_t cap = 0;  // doubles
};

class Pool {
 public:
  Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    for (void* s : slabs_) std::free(s);
  }
  Buffer take(size_t size) {
    size = std::max<size_t>(8, (size + 7) / 8 * 8);  // 64-byte granules keep buffers aligned
    auto it = free_.lower_bound(size);
    if (it != free_.end()) {
      Buffer b = it->second;
      free_.erase(it);
      return b;
    }
    if (left_ < size) new_slab(size);
    Buffer b{next_, size};
    next_ += size;
    left_ -= size;
    return b;
  }
  void give(Buffer b) {
    if (b.data) free_.emplace(b.cap, b);
  }

 private:
  // Slabs grow geometrically (256 KiB to 64 MiB) so tiny arrays touch little memory; only large
  // slabs are advised for huge pages (a huge page is zeroed whole on its first touch).
  void new_slab(size_t size) {
    constexpr size_t kPage = 4096, kHuge = size_t(2) << 20;
    slab_bytes_ = std::min(size_t(64) << 20, std::max(size_t(256) << 10, 2 * slab_bytes_));
    const size_t want = std::max(size * sizeof(double), slab_bytes_);
    const size_t align = want >= 2 * kHuge ? kHuge : kPage;
    const size_t bytes = (want + align - 1) / align * align;
    void* p = nullptr;
    if (posix_memalign(&p, align, bytes) != 0 || !p) throw std::bad_alloc();
    if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // a hint; fewer page faults where THP is on
    slabs_.push_back(p);
    next_ = static_cast<double*>(p);
    left_ = bytes / sizeof(double);
  }
  std::multimap<size_t, Buffer> free_;
  std::vector<void*> slabs_;
  double* next_ = nullptr;
  size_t left_ = 0;
  size_t slab_bytes_ = 0;
};

// Per-thread state: buffer pool and the worst residual seen.
struct Workspace {
  Pool pool;
  double residual = 0.0;
  Eigen::Map<MatrixXd> zeros(Buffer& b, int rows, int cols) {
    b = pool.take(size_t(rows) * cols);
    Eigen::Map<MatrixXd> m(b.data, rows, cols);
    m.setZero();
    return m;
  }
};

// A rectangle reduced onto its ports: K (n x n, in buf) is a Laplacian over the port nodes; L/R
// hold one position in K per row, T/B one per column (a position may appear in several lists when
// a zero resistance shorts two ports). Open edges (right, top of the array) have empty lists.
struct Domain {
  Buffer buf;
  int n = 0;
  std::vector<int> L, R, T, B;
  Eigen::Map<const MatrixXd> K() const { return {buf.data, n, n}; }
};

struct Problem {
  const MatrixXd& G;
  int R, C;
  double g_row, g_col;            // per segment (may be kShort)
  double g_row_half, g_col_half;  // half segment on each side of a cut
  double g_source, g_sink;        // terminal to first / last node: 1/(r_source + r_row), 1/(r_col + r_sense)
  int leaf = 4;                   // leaf rectangles are at most leaf x leaf cells
};

// Y <- L^{-1} Y in column blocks of fixed width: parallel for big blocks, and the result does
// not depend on the thread count.
void lower_solve_blocks(const Eigen::Ref<const MatrixXd>& factor, Eigen::Ref<MatrixXd> Y) {
  constexpr int kBlock = 128;
  const int nb = int((Y.cols() + kBlock - 1) / kBlock);
  const bool big = Y.rows() >= 256 && nb > 1;
#pragma omp parallel for schedule(dynamic, 1) if (big)
  for (int b = 0; b < nb; ++b) {
    const int c0 = b * kBlock, w = std::min<int>(kBlock, int(Y.cols()) - c0);
    factor.triangularView<Eigen::Lower>().solveInPlace(Y.middleCols(c0, w));
  }
}

// Kron reduction: S <- S - Kek^T Kee^{-1} Kek, i.e. eliminates the nodes of Kee from the
// Laplacian [S Kek^T; Kek Kee]. With Kee = L L^T and Y = L^{-1} Kek the update is Y^T Y; for
// these M-matrices L^{-1} >= 0 and Kek <= 0, so Y <= 0 and Y^T Y sums same-signed terms.
// Kee and Kek are overwritten.
void reduce(Eigen::Ref<MatrixXd> S, Eigen::Ref<MatrixXd> Kek, Eigen::Ref<MatrixXd> Kee, double& residual) {
  const int m = int(S.rows());
  if (Kee.rows() > 0) {
    const std::vector<int> cols{0, m / 2, m - 1};  // sampled residual check: O(e^2) per column
    const MatrixXd B = Kek(Eigen::all, cols);
    Eigen::LLT<Eigen::Ref<MatrixXd>> llt(Kee);  // in place
    if (llt.info() != Eigen::Success) throw InputError("crossbar solve: singular node network (floating node)");
    lower_solve_blocks(Kee, Kek);
    for (int k = 0; k < 3; ++k) {
      const double nb = B.col(k).norm();
      if (nb > 0)
        residual = std::max(residual, (Kee.triangularView<Eigen::Lower>() * Kek.col(cols[k]) - B.col(k)).norm() / nb);
    }
    S.noalias() -= Kek.transpose() * Kek;
  }
  // Off-diagonals are conductances (<= 0); diagonal = -(off-diagonal sum): rows sum to zero.
  for (int j = 0; j < m; ++j) {
    double sum = 0.0;
    double* c = S.col(j).data();
    for (int i = 0; i < m; ++i) {
      const double v = i == j ? 0.0 : std::min(c[i], 0.0);
      c[i] = v;
      sum += v;
    }
    c[j] = -sum;
  }
}

// Ordering of `n` nodes that puts the nodes named by d's port lists first (in index order) and
// the rest (to be eliminated) last; rewrites d's port lists to the new order. Returns their count.
int order_ports(int n, Domain& d, std::vector<int>& perm) {
  std::vector<char> port(n, 0);
  for (const auto* v : {&d.L, &d.R, &d.T, &d.B})
    for (int x : *v) port[x] = 1;
  perm.assign(n, -1);
  int m = 0;
  for (int x = 0; x < n; ++x)
    if (port[x]) perm[x] = m++;
  int k = m;
  for (int x = 0; x < n; ++x)
    if (!port[x]) perm[x] = k++;
  for (auto* v : {&d.L, &d.R, &d.T, &d.B})
    for (int& x : *v) x = perm[x];
  return m;
}

// Scatters the Laplacian K (its node a goes to position pos[a]) into the blocks of a reduction:
// kept block S (positions < m), cut rows Kek and cut block Kee (the kept x cut block is Kek^T).
// Positions come in a few contiguous runs (port blocks keep their order), so this is a handful
// of block additions rather than an element-wise scatter.
void scatter(const Eigen::Map<const MatrixXd>& K, const std::vector<int>& pos, int m, Eigen::Map<MatrixXd>& S,
             Eigen::Map<MatrixXd>& Kek, Eigen::Map<MatrixXd>& Kee) {
  struct Run {
    int src, dst, len;
  };
  std::vector<Run> runs;
  const int nk = int(K.rows());
  for (int a = 0; a < nk;) {
    int len = 1;
    while (a + len < nk && pos[a + len] == pos[a] + len && (pos[a + len] < m) == (pos[a] < m)) ++len;
    runs.push_back({a, pos[a], len});
    a += len;
  }
  for (const Run& c : runs) {
    for (const Run& r : runs) {
      const auto src = K.block(r.src, c.src, r.len, c.len);
      if (c.dst < m) {
        if (r.dst < m) S.block(r.dst, c.dst, r.len, c.len) += src;
        else Kek.block(r.dst - m, c.dst, r.len, c.len) += src;
      } else if (r.dst >= m) {
        Kee.block(r.dst - m, c.dst - m, r.len, c.len) += src;
      }
    }
  }
}

// Reduces the Laplacian K (n nodes, node a at position pos[a] of d's numbering) onto d's ports.
void reduce_onto_ports(const std::vector<const Domain*>& parts, const std::vector<std::vector<int>>& pos, int n,
                       Domain& d, Workspace& ws) {
  std::vector<int> perm;
  const int m = order_ports(n, d, perm);
  const int e = n - m;
  d.n = m;
  Buffer kek, kee;
  Eigen::Map<MatrixXd> S = ws.zeros(d.buf, m, m), Kek = ws.zeros(kek, e, m), Kee = ws.zeros(kee, e, e);
  for (size_t k = 0; k < parts.size(); ++k) {
    std::vector<int> pk(pos[k].size());
    for (size_t a = 0; a < pk.size(); ++a) pk[a] = perm[pos[k][a]];
    scatter(parts[k]->K(), pk, m, S, Kek, Kee);
  }
  reduce(S, Kek, Kee, ws.residual);
  ws.pool.give(kek);
  ws.pool.give(kee);
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(int n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

// A leaf rectangle: assembles its node Laplacian (zero resistances merge nodes) and reduces it
// onto its ports.
Domain make_leaf(const Problem& p, const Rect& r, Workspace& ws) {
  const int h = r.rows(), w = r.cols();
  const int nu = h * w, base = 2 * nu;
  auto u = [&](int a, int b) { return a * w + b; };       // row node of cell (a, b)
  auto v = [&](int a, int b) { return nu + a * w + b; };  // column node of cell (a, b)
  const int Lp = base, Rp = base + h, Tp = base + 2 * h, Bp = base + 2 * h + w, n0 = base + 2 * h + 2 * w;
  const bool has_R = r.j1 < p.C, has_T = r.i0 > 0;

  struct Edge {
    int a, b;
    double g;
  };
  std::vector<Edge> edges;
  UnionFind uf(n0);
  auto connect = [&](int a, int b, double g) {
    if (g == kShort) uf.join(a, b);
    else if (g > 0) edges.push_back({a, b, g});
  };
  for (int a = 0; a < h; ++a) {
    for (int b = 0; b < w; ++b) {
      connect(u(a, b), v(a, b), p.G(r.i0 + a, r.j0 + b));
      if (b + 1 < w) connect(u(a, b), u(a, b + 1), p.g_row);
      if (a + 1 < h) connect(v(a, b), v(a + 1, b), p.g_col);
    }
    connect(Lp + a, u(a, 0), r.j0 == 0 ? p.g_source : p.g_row_half);
    if (has_R) connect(u(a, w - 1), Rp + a, p.g_row_half);
  }
  for (int b = 0; b < w; ++b) {
    if (has_T) connect(Tp + b, v(0, b), p.g_col_half);
    connect(v(h - 1, b), Bp + b, r.i1 == p.R ? p.g_sink : p.g_col_half);
  }
  // Compact node ids over the used nodes (absent ports are not nodes).
  std::vector<char> used(n0, 1);
  if (!has_R) std::fill(used.begin() + Rp, used.begin() + Rp + h, 0);
  if (!has_T) std::fill(used.begin() + Tp, used.begin() + Tp + w, 0);
  std::vector<int> id(n0, -1);
  int n = 0;
  for (int x = 0; x < n0; ++x)
    if (used[x] && id[uf.find(x)] < 0) id[uf.find(x)] = n++;
  auto node = [&](int x) { return id[uf.find(x)]; };

  Domain full;  // the leaf's own Laplacian, identity numbering
  full.n = n;
  Eigen::Map<MatrixXd> K = ws.zeros(full.buf, n, n);
  for (const Edge& e : edges) {
    const int a = node(e.a), b = node(e.b);
    if (a == b) continue;  // shorted by a parallel zero-resistance path: carries no current
    K(a, b) -= e.g;
    K(b, a) -= e.g;
    K(a, a) += e.g;
    K(b, b) += e.g;
  }
  Domain d;
  for (int a = 0; a < h; ++a) {
    d.L.push_back(node(Lp + a));
    if (has_R) d.R.push_back(node(Rp + a));
  }
  for (int b = 0; b < w; ++b) {
    if (has_T) d.T.push_back(node(Tp + b));
    d.B.push_back(node(Bp + b));
  }
  std::vector<int> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  reduce_onto_ports({&full}, {identity}, n, d, ws);
  ws.pool.give(full.buf);
  return d;
}

// Merges two neighbours (A left of B when `horizontal`, else A above B) by identifying the
// midpoints they share, then eliminating those midpoints.
Domain merge(Domain&& A, Domain&& B, bool horizontal, Workspace& ws) {
  const int nA = A.n, nB = B.n;
  const auto& cutA = horizontal ? A.R : A.B;
  const auto& cutB = horizontal ? B.L : B.T;
  std::vector<int> mapA(nA), mapB(nB, -1);
  std::iota(mapA.begin(), mapA.end(), 0);
  for (size_t k = 0; k < cutB.size(); ++k) mapB[cutB[k]] = cutA[k];
  int n = nA;
  for (int x = 0; x < nB; ++x)
    if (mapB[x] < 0) mapB[x] = n++;
  auto mapped = [&](const std::vector<int>& v) {
    std::vector<int> out(v.size());
    for (size_t k = 0; k < v.size(); ++k) out[k] = mapB[v[k]];
    return out;
  };
  auto concat = [](std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  Domain d;
  if (horizontal) {
    d.L = A.L;
    d.R = mapped(B.R);
    d.T = concat(A.T, mapped(B.T));
    d.B = concat(A.B, mapped(B.B));
  } else {
    d.T = A.T;
    d.B = mapped(B.B);
    d.L = concat(A.L, mapped(B.L));
    d.R = concat(A.R, mapped(B.R));
  }
  reduce_onto_ports({&A, &B}, {mapA, mapB}, n, d, ws);
  ws.pool.give(A.buf);
  ws.pool.give(B.buf);
  return d;
}

// Splits the longer side (in leaf units) at a leaf boundary; false for a leaf.
bool split(const Problem& p, const Rect& r, Rect& a, Rect& b, bool& horizontal) {
  const int nr = (r.rows() + p.leaf - 1) / p.leaf, nc = (r.cols() + p.leaf - 1) / p.leaf;
  if (nr <= 1 && nc <= 1) return false;
  a = b = r;
  horizontal = nc >= nr;
  if (horizontal) a.j1 = b.j0 = std::min(r.j1, r.j0 + (nc / 2) * p.leaf);
  else a.i1 = b.i0 = std::min(r.i1, r.i0 + (nr / 2) * p.leaf);
  return true;
}

Domain build_serial(const Problem& p, const Rect& r, Workspace& ws) {
  Rect a, b;
  bool horizontal;
  if (!split(p, r, a, b, horizontal)) return make_leaf(p, r, ws);
  Domain A = build_serial(p, a, ws);
  Domain B = build_serial(p, b, ws);
  return merge(std::move(A), std::move(B), horizontal, ws);
}

// Subtrees at `depth` levels below r, in the order assemble() consumes them.
void collect(const Problem& p, const Rect& r, int depth, std::vector<Rect>& out) {
  Rect a, b;
  bool horizontal;
  if (depth == 0 || !split(p, r, a, b, horizontal)) {
    out.push_back(r);
    return;
  }
  collect(p, a, depth - 1, out);
  collect(p, b, depth - 1, out);
}

Domain assemble(const Problem& p, const Rect& r, int depth, std::vector<Domain>& built, size_t& next, Workspace& ws) {
  Rect a, b;
  bool horizontal;
  if (depth == 0 || !split(p, r, a, b, horizontal)) return std::move(built[next++]);
  Domain A = assemble(p, a, depth - 1, built, next, ws);
  Domain B = assemble(p, b, depth - 1, built, next, ws);
  return merge(std::move(A), std::move(B), horizontal, ws);
}

void check_conductances(const MatrixXd& G) {
  if (G.rows() == 0 || G.cols() == 0)
    throw InputError("crossbar: conductance matrix G is empty (" + std::to_string(G.rows()) + " x " +
                     std::to_string(G.cols()) + ")");
  for (Eigen::Index j = 0; j < G.cols(); ++j)
    for (Eigen::Index i = 0; i < G.rows(); ++i)
      if (!std::isfinite(G(i, j)) || G(i, j) < 0)
        throw InputError("crossbar: conductance G[" + std::to_string(i) + "][" + std::to_string(j) +
                         "] = " + format_double(G(i, j)) + " S: must be finite and >= 0");
}

}  // namespace

MatrixXd effective_matrix(const MatrixXd& G_S, const WireConfig& w, SolveStats* stats) {
  w.validate();
  check_conductances(G_S);
  if (stats) *stats = SolveStats{};
  if (w.ideal()) return G_S;

  Problem p{G_S, int(G_S.rows()), int(G_S.cols()),
            conductance(w.r_row_ohm), conductance(w.r_col_ohm),
            conductance(0.5 * w.r_row_ohm), conductance(0.5 * w.r_col_ohm),
            conductance(w.r_source_ohm + w.r_row_ohm), conductance(w.r_col_ohm + w.r_sense_ohm)};
  const Rect all{0, p.R, 0, p.C};

  // Independent subtrees in parallel (Eigen runs single-threaded inside the region); the few
  // large merges above them use Eigen's threaded GEMM and fixed-width blocked solves. Every
  // value is computed in the same order whatever the thread count.
  constexpr int kParallelDepth = 3;
  std::vector<Rect> parts;
  collect(p, all, kParallelDepth, parts);
  std::vector<Domain> built(parts.size());
  // One workspace per thread plus one for the top merges; all live until M is read out, since
  // domains built in one pool are consumed by another.
  std::vector<Workspace> spaces(size_t(omp_get_max_threads()) + 1);
  std::vector<std::exception_ptr> failed(parts.size());  // an exception must not leave the region
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < int(parts.size()); ++k) {
    try {
      built[k] = build_serial(p, parts[k], spaces[omp_get_thread_num()]);
    } catch (...) {
      failed[k] = std::current_exception();
    }
  }
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
  Workspace& ws = spaces.back();
  size_t next = 0;
  const Domain root = assemble(p, all, kParallelDepth, built, next, ws);
  double residual = 0.0;
  for (const Workspace& w : spaces) residual = std::max(residual, w.residual);

  MatrixXd M(p.R, p.C);
  for (int j = 0; j < p.C; ++j)
    for (int i = 0; i < p.R; ++i) M(i, j) = -root.K()(root.L[i], root.B[j]);
  if (stats) stats->residual = residual;
  return M;
}

MatrixXd solve_currents(const MatrixXd& G_S, const MatrixXd& V, const WireConfig& w, SolveStats* stats) {
  if (V.cols() != G_S.rows())
    throw InputError("crossbar: V has " + std::to_string(V.cols()) + " columns but the array has " +
                     std::to_string(G_S.rows()) + " rows");
  for (Eigen::Index i = 0; i < V.size(); ++i)
    if (!std::isfinite(V.data()[i])) throw InputError("crossbar: V has a non-finite value " + format_double(V.data()[i]));
  const MatrixXd M = effective_matrix(G_S, w, stats);
  return V * M;
}

double ir_drop_severity(const MatrixXd& G_S, const MatrixXd& M_S) {
  if (G_S.rows() != M_S.rows() || G_S.cols() != M_S.cols())
    throw InputError("ir_drop_severity: G and M differ in shape");
  double worst = 0.0;
  for (Eigen::Index j = 0; j < G_S.cols(); ++j) {
    const double ideal = G_S.col(j).sum();
    if (ideal > 0) worst = std::max(worst, (ideal - M_S.col(j).sum()) / ideal);
  }
  return worst;
}

MatrixXd read_noise_scale(const MatrixXd& G_S, const MatrixXd& M_S) {
  if (G_S.rows() != M_S.rows() || G_S.cols() != M_S.cols())
    throw InputError("read_noise_scale: G and M differ in shape");
  MatrixXd s(G_S.rows(), G_S.cols());
  for (Eigen::Index k = 0; k < G_S.size(); ++k)
    s.data()[k] = G_S.data()[k] > 0 ? M_S.data()[k] / G_S.data()[k] : 1.0;
  return s;
}

}  // namespace xbar
