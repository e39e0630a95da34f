// The only file that includes hnswlib (Debian's libhnswlib-dev): wraps HierarchicalNSW<float> behind the C
// functions of include/CHNSW.h, turning every exception into a status.
//
// Maximum inner product, in one of two ways chosen at creation: hnswlib's inner-product space (distance 1 − q·x,
// not a metric), or the Euclidean reduction (Bachrach et al., 2014, "Speeding up the Xbox recommender
// system using a Euclidean transformation for inner-product spaces"): an item x is stored as
// x' = [x ; sqrt(R² − |x|²)] in hnswlib's L2 space and a query q is searched as q' = [q ; 0], so
// |q' − x'|² = |q|² + R² − 2 q·x and the nearest items are those of largest q·x. R² is fixed by the first batch
// added (4 × its largest |x|², room for later items up to twice that norm); a later item beyond it is stored with a
// 0 last coordinate, still found by its direction but ranked lower than its inner product says. Either way every
// answer is re-scored by the exact q·x and sorted by it. On the benchmark's cubic item expansion (vectors of uneven
// norm) the reduction searched faster and found more of the exact top rows (docs/BENCHMARKS.md, "Catalogue scale");
// on a spiral of 2-d points it found 2 of the exact top 20 where the inner-product graph found all, so it is an
// option, not the default.
#include "CHNSW.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <atomic>
#include <thread>
#include <stdexcept>
#include <vector>

struct recpool_hnsw {
    std::unique_ptr<hnswlib::SpaceInterface<float>> space;
    /// Whether the graph holds the Euclidean reduction (dimension + 1 floats a vector).
    bool euclidean;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
    /// The caller's vector length (the graph stores dimension + 1 with the reduction).
    size_t dimension;
    /// R², or negative before the first add.
    float radius2 = -1;
};

namespace {

/// hnswlib reports failures as std::runtime_error with a message; map the ones with a meaning of their own.
recpool_hnsw_status status_of(const std::exception &error) {
    const char *what = error.what();
    if (std::strstr(what, "memory") != nullptr) return RECPOOL_HNSW_NO_MEMORY;
    if (std::strstr(what, "already deleted") != nullptr) return RECPOOL_HNSW_ALREADY_DELETED;
    if (std::strstr(what, "Label not found") != nullptr) return RECPOOL_HNSW_UNKNOWN_LABEL;
    return RECPOOL_HNSW_FAILED;
}

}  // namespace

extern "C" recpool_hnsw_status recpool_hnsw_create(
    size_t dimension, size_t capacity, size_t m, size_t ef_construction, uint64_t seed, int euclidean,
    recpool_hnsw **out) {
    if (out == nullptr || dimension == 0 || m < 2) return RECPOOL_HNSW_INVALID_ARGUMENT;
    *out = nullptr;
    try {
        auto index = std::make_unique<recpool_hnsw>();
        index->dimension = dimension;
        index->euclidean = euclidean != 0;
        if (index->euclidean)
            index->space = std::make_unique<hnswlib::L2Space>(dimension + 1);
        else
            index->space = std::make_unique<hnswlib::InnerProductSpace>(dimension);
        index->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            index->space.get(), std::max<size_t>(capacity, 1), m, ef_construction, static_cast<size_t>(seed));
        *out = index.release();
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

extern "C" void recpool_hnsw_free(recpool_hnsw *index) { delete index; }

extern "C" recpool_hnsw_status recpool_hnsw_add(recpool_hnsw *index, const float *vector, uint64_t label) {
    return recpool_hnsw_add_many(index, vector, &label, 1, 1);
}

extern "C" recpool_hnsw_status recpool_hnsw_add_many(
    recpool_hnsw *index, const float *vectors, const uint64_t *labels, size_t count, size_t threads) {
    if (index == nullptr || (count > 0 && (vectors == nullptr || labels == nullptr))) return RECPOOL_HNSW_INVALID_ARGUMENT;
    if (count == 0) return RECPOOL_HNSW_OK;
    try {
        auto &graph = *index->graph;
        // Room for the whole batch first: hnswlib's resizeIndex must not run beside an insert.
        if (graph.cur_element_count + count > graph.max_elements_)
            graph.resizeIndex(std::max<size_t>(graph.cur_element_count + count, graph.max_elements_ * 2));
        const size_t d = index->dimension;
        const size_t dimension = index->euclidean ? d + 1 : d;
        std::vector<float> augmented;
        if (index->euclidean) {
        std::vector<float> norms(count);
        for (size_t i = 0; i < count; ++i) {
            float n = 0;
            for (size_t j = 0; j < d; ++j) n += vectors[i * d + j] * vectors[i * d + j];
            norms[i] = n;
        }
        if (index->radius2 < 0) index->radius2 = 4 * std::max(*std::max_element(norms.begin(), norms.end()), 1e-12f);
        augmented.resize(count * dimension);
        for (size_t i = 0; i < count; ++i) {
            std::copy(vectors + i * d, vectors + (i + 1) * d, augmented.begin() + i * dimension);
            augmented[i * dimension + d] = std::sqrt(std::max(index->radius2 - norms[i], 0.0f));
        }
        vectors = augmented.data();
        }
        size_t workers = std::min(std::max<size_t>(threads, 1), count);
        if (workers == 1) {
            for (size_t i = 0; i < count; ++i)
                graph.addPoint(vectors + i * dimension, static_cast<hnswlib::labeltype>(labels[i]));
            return RECPOOL_HNSW_OK;
        }
        // hnswlib's addPoint is safe from several threads for distinct labels (its per-element link locks and the
        // element-count guard); the caller passes distinct labels. Each thread takes the next unclaimed row.
        std::atomic<size_t> next{0};
        std::atomic<int> failure{RECPOOL_HNSW_OK};
        auto run = [&]() {
            for (;;) {
                size_t i = next.fetch_add(1);
                if (i >= count || failure.load() != RECPOOL_HNSW_OK) return;
                try {
                    graph.addPoint(vectors + i * dimension, static_cast<hnswlib::labeltype>(labels[i]));
                } catch (const std::bad_alloc &) {
                    failure.store(RECPOOL_HNSW_NO_MEMORY);
                } catch (const std::exception &error) {
                    failure.store(status_of(error));
                }
            }
        };
        std::vector<std::thread> pool;
        pool.reserve(workers - 1);
        for (size_t t = 1; t < workers; ++t) pool.emplace_back(run);
        run();
        for (auto &thread : pool) thread.join();
        return static_cast<recpool_hnsw_status>(failure.load());
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

namespace {

/// The elements' internal ids in a k-d order of their stored vectors: each range is halved at the median of the
/// coordinate whose values spread widest in it, until a run holds at most 16 elements.
std::vector<hnswlib::tableint> kd_order(const hnswlib::HierarchicalNSW<float> &graph, size_t dimension) {
    const size_t n = graph.cur_element_count;
    std::vector<hnswlib::tableint> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = static_cast<hnswlib::tableint>(i);
    auto coordinate = [&](hnswlib::tableint id, size_t j) {
        return reinterpret_cast<const float *>(graph.getDataByInternalId(id))[j];
    };
    std::vector<std::pair<size_t, size_t>> ranges{{0, n}};
    std::vector<float> low(dimension), high(dimension);
    while (!ranges.empty()) {
        auto [first, last] = ranges.back();
        ranges.pop_back();
        if (last - first <= 16) continue;
        std::fill(low.begin(), low.end(), INFINITY);
        std::fill(high.begin(), high.end(), -INFINITY);
        for (size_t i = first; i < last; ++i) {
            const float *x = reinterpret_cast<const float *>(graph.getDataByInternalId(order[i]));
            for (size_t j = 0; j < dimension; ++j) {
                low[j] = std::min(low[j], x[j]);
                high[j] = std::max(high[j], x[j]);
            }
        }
        size_t widest = 0;
        for (size_t j = 1; j < dimension; ++j)
            if (high[j] - low[j] > high[widest] - low[widest]) widest = j;
        if (!(high[widest] > low[widest])) continue;  // every vector of the run is the same
        const size_t middle = first + (last - first) / 2;
        std::nth_element(order.begin() + first, order.begin() + middle, order.begin() + last,
            [&](hnswlib::tableint a, hnswlib::tableint b) { return coordinate(a, widest) < coordinate(b, widest); });
        ranges.emplace_back(middle, last);
        ranges.emplace_back(first, middle);
    }
    return order;
}

/// Rewrites the `count` links after `list`'s header through `renumber`.
void renumber_links(hnswlib::linklistsizeint *list, size_t count, const std::vector<hnswlib::tableint> &renumber) {
    auto *links = reinterpret_cast<hnswlib::tableint *>(list + 1);
    for (size_t i = 0; i < count; ++i) links[i] = renumber[links[i]];
}

}  // namespace

extern "C" recpool_hnsw_status recpool_hnsw_reorder(recpool_hnsw *index) {
    if (index == nullptr) return RECPOOL_HNSW_INVALID_ARGUMENT;
    try {
        auto &graph = *index->graph;
        const size_t n = graph.cur_element_count;
        if (n < 2) return RECPOOL_HNSW_OK;
        const size_t dimension = index->euclidean ? index->dimension + 1 : index->dimension;
        const std::vector<hnswlib::tableint> order = kd_order(graph, dimension);  // new id -> old id
        std::vector<hnswlib::tableint> renumber(n);                                 // old id -> new id
        for (size_t i = 0; i < n; ++i) renumber[order[i]] = static_cast<hnswlib::tableint>(i);

        std::vector<char *> upper(n);
        std::vector<int> levels(n);
        const size_t record = graph.size_data_per_element_;
        // malloc, as hnswlib's own block (resizeIndex reallocs it and the destructor frees it).
        std::unique_ptr<char, decltype(&std::free)> level0(
            static_cast<char *>(std::malloc(graph.max_elements_ * record)), &std::free);
        if (level0 == nullptr) return RECPOOL_HNSW_NO_MEMORY;
        // From here on nothing allocates or throws, so the graph is never left half rewritten.
        for (size_t i = 0; i < n; ++i) {
            const size_t old = order[i];
            std::memcpy(level0.get() + i * record, graph.data_level0_memory_ + old * record, record);
            auto *list = reinterpret_cast<hnswlib::linklistsizeint *>(level0.get() + i * record + graph.offsetLevel0_);
            renumber_links(list, graph.getListCount(list), renumber);
            levels[i] = graph.element_levels_[old];
            // hnswlib sets the upper-level pointer only for elements above level 0; the others are never read.
            upper[i] = levels[i] > 0 ? graph.linkLists_[old] : nullptr;
            for (int level = 1; level <= levels[i]; ++level) {
                auto *above = reinterpret_cast<hnswlib::linklistsizeint *>(
                    upper[i] + (level - 1) * graph.size_links_per_element_);
                renumber_links(above, graph.getListCount(above), renumber);
            }
        }
        std::free(graph.data_level0_memory_);
        graph.data_level0_memory_ = level0.release();
        for (size_t i = 0; i < n; ++i) {
            graph.linkLists_[i] = upper[i];
            graph.element_levels_[i] = levels[i];
        }
        for (auto &entry : graph.label_lookup_) entry.second = renumber[entry.second];
        graph.enterpoint_node_ = renumber[graph.enterpoint_node_];
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

extern "C" recpool_hnsw_status recpool_hnsw_mark_deleted(recpool_hnsw *index, uint64_t label) {
    if (index == nullptr) return RECPOOL_HNSW_INVALID_ARGUMENT;
    try {
        auto &graph = *index->graph;
        auto found = graph.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
        if (found == graph.label_lookup_.end()) return RECPOOL_HNSW_UNKNOWN_LABEL;
        if (graph.isMarkedDeleted(found->second)) return RECPOOL_HNSW_ALREADY_DELETED;
        graph.markDelete(static_cast<hnswlib::labeltype>(label));
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

extern "C" void recpool_hnsw_set_ef(recpool_hnsw *index, size_t ef) {
    if (index != nullptr) index->graph->setEf(std::max<size_t>(ef, 1));
}

extern "C" recpool_hnsw_status recpool_hnsw_search(
    const recpool_hnsw *index, const float *query, size_t k, uint64_t *labels, float *scores, size_t *found) {
    if (index == nullptr || query == nullptr || found == nullptr || (k > 0 && (labels == nullptr || scores == nullptr)))
        return RECPOOL_HNSW_INVALID_ARGUMENT;
    *found = 0;
    if (k == 0) return RECPOOL_HNSW_OK;
    try {
        const auto &graph = *index->graph;
        const size_t d = index->dimension;
        if (graph.cur_element_count == 0) return RECPOOL_HNSW_OK;
        std::vector<float> augmented(query, query + d);
        if (index->euclidean) augmented.push_back(0);
        const void *q = augmented.data();
        auto distance = [&](hnswlib::tableint id) {
            return graph.fstdistfunc_(q, graph.getDataByInternalId(id), graph.dist_func_param_);
        };
        // Greedy descent through the upper levels to the base level's entry point (Malkov & Yashunin, "Efficient and
        // robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs", 2018,
        // algorithm 5), then hnswlib's beam search of the base level. Unlike hnswlib's searchKnn it keeps the
        // beam's internal ids, so each row's vector and label are read from the element the search just visited
        // (no lookup of a label in a map of every row, a cache miss at a million rows), and it counts no metrics
        // (atomic adds on every step).
        hnswlib::tableint entry = graph.enterpoint_node_;
        float nearest = distance(entry);
        for (int level = graph.maxlevel_; level > 0; --level) {
            for (bool moved = true; moved;) {
                moved = false;
                hnswlib::linklistsizeint *list = graph.get_linklist(entry, level);
                const auto *links = reinterpret_cast<const hnswlib::tableint *>(list + 1);
                for (size_t i = 0, count = graph.getListCount(list); i < count; ++i) {
                    const float next = distance(links[i]);
                    if (next < nearest) {
                        nearest = next;
                        entry = links[i];
                        moved = true;
                    }
                }
            }
        }
        // Take the whole beam (max(ef, k) rows), score each by the exact q·x, keep the k best.
        const size_t beam = std::max(k, graph.ef_);
        auto result = graph.num_deleted_ ? graph.searchBaseLayerST<true, false>(entry, q, beam)
                                         : graph.searchBaseLayerST<false, false>(entry, q, beam);
        std::vector<std::pair<float, uint64_t>> hits;
        hits.reserve(result.size());
        while (!result.empty()) {
            const hnswlib::tableint id = result.top().second;
            result.pop();
            const float *x = reinterpret_cast<const float *>(graph.getDataByInternalId(id));
            float score = 0;
            for (size_t j = 0; j < d; ++j) score += query[j] * x[j];
            hits.emplace_back(score, static_cast<uint64_t>(graph.getExternalLabel(id)));
        }
        const size_t n = std::min(k, hits.size());
        auto better = [](const auto &a, const auto &b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
        if (n == hits.size())
            std::sort(hits.begin(), hits.end(), better);
        else
            std::partial_sort(hits.begin(), hits.begin() + n, hits.end(), better);
        for (size_t i = 0; i < n; ++i) {
            labels[i] = hits[i].second;
            scores[i] = hits[i].first;
        }
        *found = n;
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

extern "C" recpool_hnsw_status recpool_hnsw_neighbours(
    const recpool_hnsw *index, uint64_t label, uint64_t *labels, size_t capacity, size_t *found) {
    if (index == nullptr || found == nullptr || (capacity > 0 && labels == nullptr)) return RECPOOL_HNSW_INVALID_ARGUMENT;
    *found = 0;
    try {
        const auto &graph = *index->graph;
        auto internal = graph.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
        if (internal == graph.label_lookup_.end()) return RECPOOL_HNSW_UNKNOWN_LABEL;
        const hnswlib::linklistsizeint *list = graph.get_linklist0(internal->second);
        const size_t count = graph.getListCount(const_cast<hnswlib::linklistsizeint *>(list));
        const auto *links = reinterpret_cast<const hnswlib::tableint *>(list + 1);
        size_t n = 0;
        for (size_t i = 0; i < count && n < capacity; ++i) labels[n++] = static_cast<uint64_t>(graph.getExternalLabel(links[i]));
        *found = n;
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
}

extern "C" recpool_hnsw_status recpool_hnsw_memory_order(
    const recpool_hnsw *index, uint64_t *labels, size_t capacity, size_t *found) {
    if (index == nullptr || found == nullptr || (capacity > 0 && labels == nullptr)) return RECPOOL_HNSW_INVALID_ARGUMENT;
    const auto &graph = *index->graph;
    const size_t n = std::min<size_t>(graph.cur_element_count, capacity);
    for (size_t i = 0; i < n; ++i)
        labels[i] = static_cast<uint64_t>(graph.getExternalLabel(static_cast<hnswlib::tableint>(i)));
    *found = n;
    return RECPOOL_HNSW_OK;
}

extern "C" size_t recpool_hnsw_count(const recpool_hnsw *index) {
    return index == nullptr ? 0 : static_cast<size_t>(index->graph->cur_element_count);
}

extern "C" size_t recpool_hnsw_deleted_count(const recpool_hnsw *index) {
    return index == nullptr ? 0 : static_cast<size_t>(index->graph->num_deleted_);
}

extern "C" size_t recpool_hnsw_memory_bytes(const recpool_hnsw *index) {
    if (index == nullptr) return 0;
    const auto &graph = *index->graph;
    // Level 0 (vectors, links, labels), then per element a lock, a link-list pointer and a level, then the
    // label map's nodes (about four words each), then the upper levels' link lists.
    size_t bytes = graph.max_elements_ * (graph.size_data_per_element_ + sizeof(std::mutex) + sizeof(void *) + sizeof(int));
    bytes += graph.cur_element_count * 4 * sizeof(void *);
    for (size_t i = 0; i < graph.cur_element_count; ++i) {
        if (graph.element_levels_[i] > 0)
            bytes += static_cast<size_t>(graph.element_levels_[i]) * graph.size_links_per_element_;
    }
    return bytes;
}
