import Foundation
import RecStore
import RecWire

extension OnlineCoordinator {
    /// Answers an online CONTROL request, one function per operation.
    func handleControl(identity: [UInt8], header: Header, request: ControlRequest, nowMs: UInt64) {
        do {
            switch request.operation {
            case .online?:
                answer(identity, header, WireJSON.encode(view))
            case .onlineFreeze?:
                try setFrozen(true, identity: identity, header: header)
            case .onlineUnfreeze?:
                try setFrozen(false, identity: identity, header: header)
            case .onlineSync?:
                syncNow(identity: identity, header: header, corruption: request.corrupt, nowMs: nowMs)
            case .onlinePolicy?:
                let document = PolicyInstall(version: version, spec: spec, learningEnabled: !frozen)
                var ok = header.reply(status: .ok, modelVersion: version)
                ok.command = .control
                emit(.toClient(identity: identity, frames: [ok.encoded(), WireJSON.encode(document), pack]))
            case .impressions?:
                try impressionPage(identity: identity, header: header, after: request.after, limit: request.limit)
            case nil, .train?, .upload?, .jobs?, .job?, .cancelJob?, .models?, .promote?, .importModel?, .fetch?,
                .rollback?, .drain?:
                reply(identity, header, .badRequest, text: "unknown online operation \(request.op)")
            }
        } catch {
            logger.error("online control failed", metadata: ["op": "\(request.op)", "error": "\(error)"])
            reply(identity, header, .internal, text: "\(request.op) failed: \(error)")
        }
    }

    /// `online_freeze` / `online_unfreeze`: the flag is stored durably before replicas are told.
    private func setFrozen(_ freeze: Bool, identity: [UInt8], header: Header) throws {
        if freeze != frozen {
            frozen = freeze
            try store.setSetting("online.frozen", freeze ? "true" : "false")
            logger.info(freeze ? "online learning frozen" : "online learning unfrozen")
            if freeze { held.removeAll() }
            for worker in workers { install(on: worker.identity) }
            publishView()
        }
        answer(identity, header, WireJSON.encode(view))
    }

    /// `online_sync`: starts a sync now (with `corrupt: "noise"`, only under `--allow-fault-injection`).
    private func syncNow(identity: [UInt8], header: Header, corruption: String?, nowMs: UInt64) {
        let corrupt: Bool
        switch corruption {
        case nil: corrupt = false
        case "noise"? where settings.allowFaultInjection: corrupt = true
        case "noise"?:
            reply(identity, header, .badRequest, text: "fault injection is off; start the broker with --allow-fault-injection")
            return
        case let other?:
            reply(identity, header, .badRequest, text: "unknown corruption '\(other)'; the only one is 'noise'")
            return
        }
        guard sync == nil else {
            reply(identity, header, .conflict, text: "a sync is already in progress; retry shortly")
            return
        }
        if frozen && !corrupt {
            reply(identity, header, .conflict, text: "online learning is frozen; unfreeze it first")
            return
        }
        startSync(corrupt: corrupt, requester: (identity, header), nowMs: nowMs)
    }

    /// `impressions`: a page of the impression log after a sequence number.
    private func impressionPage(identity: [UInt8], header: Header, after: Int64?, limit: Int?) throws {
        flushPending()
        let limit = limit ?? 1000
        guard (1...10_000).contains(limit) else {
            reply(identity, header, .badRequest, text: "limit must be in 1...10000, got \(limit)")
            return
        }
        let rows = try store.impressions(after: after ?? 0, limit: limit)
        let page = ImpressionPage(
            impressions: rows.compactMap { row in
                guard let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(row.record.utf8))
                else { return nil }
                return LoggedImpression(
                    seq: row.seq, record: record,
                    clicks: Dictionary(uniqueKeysWithValues: row.clicks.map { ("\($0.key)", $0.value) }))
            },
            nextAfter: rows.count == limit ? rows.last?.seq : nil, spec: spec)
        answer(identity, header, WireJSON.encode(page))
    }

    func answer(_ identity: [UInt8], _ request: Header, _ document: [UInt8]) {
        var ok = request.reply(status: .ok, modelVersion: version)
        ok.command = .control
        emit(.toClient(identity: identity, frames: [ok.encoded(), document]))
    }
}
