// The only file that includes hnswlib (Debian's libhnswlib-dev): wraps HierarchicalNSW<float> over the
// inner-product space behind the C functions of include/CHNSW.h, turning every exception into a status.
#include "CHNSW.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

struct recpool_hnsw {
    std::unique_ptr<hnswlib::InnerProductSpace> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
    size_t dimension;
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
    size_t dimension, size_t capacity, size_t m, size_t ef_construction, uint64_t seed, recpool_hnsw **out) {
    if (out == nullptr || dimension == 0 || m < 2) return RECPOOL_HNSW_INVALID_ARGUMENT;
    *out = nullptr;
    try {
        auto index = std::make_unique<recpool_hnsw>();
        index->dimension = dimension;
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
    if (index == nullptr || vector == nullptr) return RECPOOL_HNSW_INVALID_ARGUMENT;
    try {
        auto &graph = *index->graph;
        if (graph.cur_element_count >= graph.max_elements_) graph.resizeIndex(graph.max_elements_ * 2);
        graph.addPoint(vector, static_cast<hnswlib::labeltype>(label));
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
        auto result = index->graph->searchKnn(query, k);
        // The queue pops the largest distance first; hnswlib's inner-product distance is 1 − q·x.
        size_t n = result.size();
        for (size_t i = n; i > 0; --i) {
            labels[i - 1] = static_cast<uint64_t>(result.top().second);
            scores[i - 1] = 1.0f - result.top().first;
            result.pop();
        }
        *found = n;
        return RECPOOL_HNSW_OK;
    } catch (const std::bad_alloc &) {
        return RECPOOL_HNSW_NO_MEMORY;
    } catch (const std::exception &error) {
        return status_of(error);
    }
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
