// C interface over hnswlib's HierarchicalNSW<float> with the inner-product space (Debian's libhnswlib-dev,
// header-only C++). hnswlib_shim.cpp is the only file that includes hnswlib; Swift sees only this header.
// Every function catches the C++ exceptions hnswlib throws and returns a status code instead.
#ifndef RECPOOL_CHNSW_H
#define RECPOOL_CHNSW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A maximum-inner-product HNSW graph over float vectors of one dimension (hnswlib's inner-product space, or its
/// L2 space over the Euclidean reduction of inner product, see hnswlib_shim.cpp); labels are item rows.
typedef struct recpool_hnsw recpool_hnsw;

/// What a call did.
typedef enum {
    /// Done.
    RECPOOL_HNSW_OK = 0,
    /// An allocation failed (std::bad_alloc, or hnswlib's "Not enough memory").
    RECPOOL_HNSW_NO_MEMORY = 1,
    /// The label is not in the graph (mark_deleted).
    RECPOOL_HNSW_UNKNOWN_LABEL = 2,
    /// The label is already marked deleted (mark_deleted).
    RECPOOL_HNSW_ALREADY_DELETED = 3,
    /// An argument is out of range (a zero dimension, a null pointer).
    RECPOOL_HNSW_INVALID_ARGUMENT = 4,
    /// Any other exception hnswlib threw.
    RECPOOL_HNSW_FAILED = 5
} recpool_hnsw_status;

/// Creates an empty graph. `m` is hnswlib's M (links per node), `ef_construction` its build-time beam,
/// `seed` the seed of its level generator; `capacity` grows on demand in recpool_hnsw_add.
/// `euclidean` non-zero stores the Euclidean reduction of inner product (see hnswlib_shim.cpp), zero uses
/// hnswlib's inner-product space.
recpool_hnsw_status recpool_hnsw_create(
    size_t dimension, size_t capacity, size_t m, size_t ef_construction, uint64_t seed, int euclidean,
    recpool_hnsw **out);

/// Frees a graph (null is allowed).
void recpool_hnsw_free(recpool_hnsw *index);

/// Adds `vector` (dimension floats) under `label`; a label already present has its vector replaced and is
/// undeleted. Doubles the capacity when the graph is full.
recpool_hnsw_status recpool_hnsw_add(recpool_hnsw *index, const float *vector, uint64_t label);

/// Adds `count` vectors (`count × dimension` floats, row-major) under `labels`, as recpool_hnsw_add does one,
/// from `threads` threads (1: in order on the calling thread). The labels must be distinct. Capacity for the whole
/// batch is reserved before any insert. With more than one thread the graph's links depend on the order the
/// threads happen to insert in, so two builds of the same vectors can differ; with one they are identical.
recpool_hnsw_status recpool_hnsw_add_many(
    recpool_hnsw *index, const float *vectors, const uint64_t *labels, size_t count, size_t threads);

/// Renumbers the graph's elements in a k-d order of their stored vectors (recursive halving at the median of the
/// coordinate of widest range, down to runs of 16), so that elements near each other in the graph's space, which are
/// the ones a node links to and a search visits together, sit near each other in memory: a search then touches fewer
/// cache lines and pages (the graph reordering of Coleman et al., "Graph Reordering for Cache-Efficient Near Neighbor
/// Search", NeurIPS 2022). Only the internal numbering changes: links, levels, deleted marks and labels are carried
/// over, so every search answers as before. Later inserts break ties between exactly equal distances by internal
/// id, so with duplicate vectors a renumbered graph can grow apart from one that was not.
/// The elements stay in insertion order while they are inserted (hnswlib's graph is built worse from sorted input),
/// so this runs after a bulk build. Holds a second copy of the base level while it runs; no other call may run
/// beside it.
recpool_hnsw_status recpool_hnsw_reorder(recpool_hnsw *index);
/// Marks `label` deleted: it stays in the graph for navigation and is never returned by a search.
recpool_hnsw_status recpool_hnsw_mark_deleted(recpool_hnsw *index, uint64_t label);

/// Sets the search beam (hnswlib's ef); a search uses max(ef, k).
void recpool_hnsw_set_ef(recpool_hnsw *index, size_t ef);

/// The `k` labels of largest inner product with `query`, best first (ties by smaller label), into `labels` and
/// `scores` (each of room for k; a score is the exact q·x); the search's beam is max(ef, k) and every row of it is
/// re-scored exactly before the k best are kept. `found` receives how many were written (fewer than k when the graph
/// holds fewer live labels).
recpool_hnsw_status recpool_hnsw_search(
    const recpool_hnsw *index, const float *query, size_t k, uint64_t *labels, float *scores, size_t *found);

/// The labels linked to `label` on the graph's base level (its nearest neighbours in the graph's space, deleted
/// ones included), into `labels` (room for `capacity`); `found` receives how many were written, at most
/// `capacity`. A proximity graph over the items, for a search by another scorer (a neural ranker) that walks it.
recpool_hnsw_status recpool_hnsw_neighbours(
    const recpool_hnsw *index, uint64_t label, uint64_t *labels, size_t capacity, size_t *found);

/// The labels in the order of their elements in memory (internal ids), deleted ones included, into `labels` (room
/// for `capacity`); `found` receives how many were written. What recpool_hnsw_reorder changes.
recpool_hnsw_status recpool_hnsw_memory_order(
    const recpool_hnsw *index, uint64_t *labels, size_t capacity, size_t *found);
/// Labels ever added (deleted ones included).
size_t recpool_hnsw_count(const recpool_hnsw *index);

/// Labels marked deleted.
size_t recpool_hnsw_deleted_count(const recpool_hnsw *index);

/// Bytes held by the graph's element storage (vectors, links and labels) and link lists: an estimate of its
/// memory, for the benchmark.
size_t recpool_hnsw_memory_bytes(const recpool_hnsw *index);

#ifdef __cplusplus
}
#endif

#endif
