import CRMKernelCore
import CRMOptionsContract
import CRMPluginABI
import Foundation

/// The load-time check of a plugin's methods against its descriptor set:
/// what it serves and what its .proto declares must be the same methods with
/// the same types, and each method's semantics come from its options.
extension PluginHost {
    func checkContract(_ entries: [crm_method_def], _ def: crm_plugin_def, _ record: PluginRecord) throws -> [PluginMethod] {
        let legacyTopics = try readPublishes(def)
        guard !record.descriptorSet.isEmpty else {
            guard entries.isEmpty else {
                throw PluginLoadError("plugin serves methods but ships no descriptor set (crm_plugin_def.descriptor_set) declaring them")
            }
            record.topics = Dictionary(legacyTopics.map { ($0, nil) }, uniquingKeysWith: { a, _ in a })
            record.checksTopics = !record.topics.isEmpty
            return []
        }
        let contract = try PluginContract(descriptorSet: record.descriptorSet)
        // The plugin's own services: those of the set's root files (no other
        // file imports them) and any it serves a method of. The rest the set
        // carries because a file imports them (sales ships contacts.proto).
        let servedServices = Set(entries.compactMap { Router.serviceName(of: String(cString: $0.full_name)) })
        let own = contract.services.filter { contract.rootServices.contains($0.key) || servedServices.contains($0.key) }
        let declared = Dictionary(own.values.joined().map { ($0.fullName, $0) }, uniquingKeysWith: { a, _ in a })
        var methods: [PluginMethod] = []
        for entry in entries {
            let name = String(cString: entry.full_name)
            guard let rpc = declared[name] else {
                throw PluginLoadError("method \(name) is served but its descriptor set declares no such rpc")
            }
            try checkTypes(entry, rpc)
            let semantics = try semantics(of: entry, rpc, contract, plugin: record.name)
            if semantics.writes && rpc.serverStreaming {
                throw PluginLoadError("method \(name) streams and writes; a stream cannot hold the write transaction")
            }
            methods.append(PluginMethod(plugin: record, def: entry, semantics: semantics))
        }
        let served = Set(methods.map(\.fullName))
        if let missing = own.values.joined().first(where: { !served.contains($0.fullName) }) {
            throw PluginLoadError("method \(missing.fullName) is declared in the descriptor set but has no handler")
        }
        (record.topics, record.readPermissions) = try declaredTopics(contract, legacy: legacyTopics, plugin: record.name)
        // A plugin whose .proto declares nothing, built before the options,
        // keeps ABI 1.0's rule: any topic under its prefix.
        record.checksTopics = !record.topics.isEmpty || contract.declaresSemantics(in: own.keys)
        if !record.checksTopics {
            record.logger.warning("plugin declares no method options and no topics: it may publish any topic under its prefix",
                                  metadata: ["plugin": "\(record.name)"])
        }
        return methods
    }

    private func checkTypes(_ entry: crm_method_def, _ rpc: PluginContract.Rpc) throws {
        let request = entry.request_type.map { String(cString: $0) } ?? ""
        let response = entry.response_type.map { String(cString: $0) } ?? ""
        guard request == rpc.requestType else {
            throw PluginLoadError("method \(rpc.fullName) takes \(request) but its .proto says \(rpc.requestType)")
        }
        guard response == rpc.responseType else {
            throw PluginLoadError("method \(rpc.fullName) returns \(response) but its .proto says \(rpc.responseType)")
        }
        guard !rpc.clientStreaming else {
            throw PluginLoadError("method \(rpc.fullName) streams from the client, which crmd does not serve")
        }
        let streams = entry.kind == CRM_METHOD_SERVER_STREAMING.rawValue
        guard streams == rpc.serverStreaming else {
            throw PluginLoadError("method \(rpc.fullName) is \(streams ? "" : "not ")server-streaming but its .proto says it is\(rpc.serverStreaming ? "" : " not")")
        }
    }

    private func semantics(of entry: crm_method_def, _ rpc: PluginContract.Rpc, _ contract: PluginContract,
                           plugin: String) throws -> MethodSemantics {
        let flaggedWrites = entry.flags & CRM_METHOD_FLAG_WRITES != 0
        guard let options = rpc.semantics else { return MethodSemantics(writes: flaggedWrites) }
        if flaggedWrites && !options.writes {
            throw PluginLoadError("method \(rpc.fullName) is flagged CRM_METHOD_FLAG_WRITES but its .proto does not declare writes")
        }
        if options.idempotent && !contract.hasIdempotencyKey(rpc.requestType) {
            throw PluginLoadError("method \(rpc.fullName) declares idempotent but \(rpc.requestType) has no string idempotency_key")
        }
        if !options.permission.isEmpty && !PermissionName.isValid(options.permission, plugin: plugin) {
            throw PluginLoadError("method \(rpc.fullName) declares permission \"\(options.permission)\"; it must be \(plugin).<entity>.<action> in lowercase letters, digits and _")
        }
        try checkJob(options, rpc, contract)
        return MethodSemantics(writes: options.writes, idempotent: options.idempotent,
                               permission: options.permission, declared: true, jobEveryMillis: options.jobEveryMs)
    }

    /// A background job (docs/PLUGINS.md "Background jobs") runs with no
    /// request and no write transaction, alone, at a sane interval.
    private func checkJob(_ options: Crm_Options_V1_MethodSemantics, _ rpc: PluginContract.Rpc,
                          _ contract: PluginContract) throws {
        let every = options.jobEveryMs
        guard every != 0 else { return }
        let name = rpc.fullName
        if options.writes {
            throw PluginLoadError("method \(name) declares job_every_ms and writes; a job must not hold the write transaction (make in-process calls to writing methods instead)")
        }
        if rpc.serverStreaming {
            throw PluginLoadError("method \(name) declares job_every_ms but streams; a job must be unary")
        }
        guard let fields = contract.messages[rpc.requestType] else {
            throw PluginLoadError("method \(name) declares job_every_ms but its descriptor set does not declare \(rpc.requestType)")
        }
        if !fields.isEmpty {
            throw PluginLoadError("method \(name) declares job_every_ms but \(rpc.requestType) has fields; a job's request is empty")
        }
        guard every >= PluginJob.minimumMillis && every <= PluginJob.maximumMillis else {
            throw PluginLoadError("method \(name) declares job_every_ms \(every); it must be \(PluginJob.minimumMillis) to \(PluginJob.maximumMillis) (a day)")
        }
    }

    /// Topic -> the message type declared for it (nil: from the old
    /// `publishes` list, any type), and topic -> its read permission (only
    /// topics that declare one). Topics of other plugins' messages that
    /// the set carries are theirs, not this plugin's.
    private func declaredTopics(_ contract: PluginContract, legacy: [String], plugin: String) throws
        -> (topics: [String: String?], readPermissions: [String: String]) {
        var topics: [String: String?] = [:]
        var readPermissions: [String: String] = [:]
        for (topic, declared) in contract.topics where topic.hasPrefix(plugin + ".") {
            guard TopicPattern.isValidTopic(topic, publisher: plugin) else {
                throw PluginLoadError("\(declared.message) declares topic \"\(topic)\", which is not \(plugin).<segment>[.<segment>...] in lowercase letters, digits and _")
            }
            let permission = declared.readPermission
            if !permission.isEmpty {
                // Like a method's: a plugin names only its own permissions.
                guard PermissionName.isValid(permission, plugin: plugin) else {
                    throw PluginLoadError("\(declared.message) declares read_permission \"\(permission)\"; it must be \(plugin).<entity>.<action> in lowercase letters, digits and _")
                }
                readPermissions[topic] = permission
            }
            topics[topic] = declared.message
        }
        for topic in legacy where topics[topic] == nil { topics[topic] = .some(nil) }
        return (topics, readPermissions)
    }

    /// Topic -> read permission, over every loaded plugin: what
    /// Events/Subscribe checks (a topic missing here is for administrators).
    var eventReadPermissions: [String: String] {
        plugins.filter(\.isLoaded).reduce(into: [:]) { all, record in
            all.merge(record.readPermissions) { first, _ in first }
        }
    }

    private func readPublishes(_ def: crm_plugin_def) throws -> [String] {
        try ABIArray.strings(def.publishes, count: def.publish_count, what: "publishes").compactMap { $0 }
    }
}
