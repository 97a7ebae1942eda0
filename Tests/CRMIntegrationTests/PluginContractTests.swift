import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// What a plugin serves must be what its descriptor set declares, and what
/// it publishes what its event messages declare; plugins built against an
/// older or a newer header than crmd's load and serve.
@Suite struct PluginContractTests {
    @Test func pluginsWhoseMethodsDisagreeWithTheirDescriptorSetAreRefusedNamingTheMethod() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "unservedrpc", "undeclared", "wrongtype", "nodescriptor"])
        let plugins = try await allPlugins(try crmd.connect())
        func reason(_ name: String) throws -> String {
            let plugin = try #require(plugins.first { $0.name == name }, "\(name) missing from Plugins.List")
            #expect(plugin.state == .failed, "\(name)")
            return plugin.reason
        }
        #expect(try reason("unservedrpc").contains(
            "method /crm.testing.v1.unservedrpc/Pong is declared in the descriptor set but has no handler"))
        #expect(try reason("undeclared").contains(
            "method /crm.testing.v1.undeclared/Extra is served but its descriptor set declares no such rpc"))
        #expect(try reason("wrongtype").contains(
            "method /crm.testing.v1.wrongtype/Ping takes crm.testing.v1.Empty but its .proto says crm.testing.v1.Other"))
        #expect(try reason("nodescriptor").contains("ships no descriptor set"))
        #expect(plugins.first { $0.name == "probe" }?.state == .loaded)

        // crmctl plugins shows the same reasons, method named.
        let listing = try CrmctlRun.run(["plugins"], socket: crmd.socketPath)
        #expect(listing.status == 0, "\(listing.stderr)")
        #expect(listing.stdout.contains("/crm.testing.v1.unservedrpc/Pong"))
        #expect(listing.stdout.contains("/crm.testing.v1.undeclared/Extra"))
        #expect(listing.stdout.contains("/crm.testing.v1.wrongtype/Ping"))
    }

    @Test func semanticsThatContradictTheHandlerOrBreakARuleAreRefused() async throws {
        let crmd = try CrmdProcess(plugins: ["wrongresponse", "wrongstreaming", "flagsdisagree", "badperm", "idemnokey",
                                             "badstamp", "badreadperm", "probe"])
        let plugins = try await allPlugins(try crmd.connect())
        func reason(_ name: String) throws -> String {
            let plugin = try #require(plugins.first { $0.name == name }, "\(name) missing from Plugins.List")
            #expect(plugin.state == .failed, "\(name)")
            return plugin.reason
        }
        #expect(try reason("wrongresponse").contains(
            "method /crm.testing.v1.wrongresponse/Ping returns crm.testing.v1.Empty but its .proto says crm.testing.v1.Other"))
        #expect(try reason("wrongstreaming").contains(
            "method /crm.testing.v1.wrongstreaming/Ping is not server-streaming but its .proto says it is"))
        #expect(try reason("flagsdisagree").contains(
            "method /crm.testing.v1.flagsdisagree/Ping is flagged CRM_METHOD_FLAG_WRITES but its .proto does not declare writes"))
        #expect(try reason("badperm").contains(
            "method /crm.testing.v1.badperm/Ping declares permission \"sales.lead.write\"; it must be badperm.<entity>.<action>"))
        #expect(try reason("idemnokey").contains(
            "method /crm.testing.v1.idemnokey/Ping declares idempotent but crm.testing.v1.Empty has no string idempotency_key"))
        // An event's read permission is the plugin's own, as a method's is.
        #expect(try reason("badreadperm").contains(
            "crm.testing.v1.Event declares read_permission \"sales.lead.read\"; it must be badreadperm.<entity>.<action>"))
        // A stamp that is no struct size would copy half a field (a pointer crmd then calls).
        #expect(try reason("badstamp").contains("methods: entries are stamped 76 bytes, not a struct size"))
        #expect(plugins.first { $0.name == "probe" }?.state == .loaded)
    }

    @Test func reflectionAndCrmctlServicesShowEachMethodsDeclaredSemantics() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales", "abi10"])
        let client = try crmd.connect()
        var methods: [String: Crm_Kernel_V1_MethodInfo] = [:]
        var token = ""
        repeat {
            let page = try await client.call("/crm.kernel.v1.Reflection/ListServices",
                                             Crm_Kernel_V1_ListServicesRequest.with { $0.pageToken = token },
                                             as: Crm_Kernel_V1_ListServicesResponse.self)
            for service in page.services { for method in service.methods { methods[method.fullName] = method } }
            token = page.nextPageToken
        } while !token.isEmpty
        let create = try #require(methods["/crm.sales.v1.Sales/CreateLead"])
        #expect(create.writes && create.idempotent && create.permission == "sales.lead.write" && create.declared)
        let get = try #require(methods["/crm.contacts.v1.Contacts/GetPerson"])
        #expect(!get.writes && !get.idempotent && get.permission == "contacts.person.read" && get.declared)
        let backup = try #require(methods["/crm.kernel.v1.Storage/Backup"])
        #expect(backup.permission == "kernel.storage.backup" && backup.declared)
        // A plugin whose .proto declares no options: semantics from its flags
        // (abi10 flags Ping CRM_METHOD_FLAG_WRITES).
        let ping = try #require(methods["/crm.testing.v1.abi10/Ping"])
        #expect(!ping.declared && ping.writes && ping.permission.isEmpty)

        let listing = try CrmctlRun.run(["services"], socket: crmd.socketPath)
        #expect(listing.status == 0, "\(listing.stderr)")
        let line = try #require(listing.stdout.split(separator: "\n").first { $0.contains("/crm.sales.v1.Sales/CreateLead ") })
        #expect(line.hasSuffix("[writes, idempotent, permission sales.lead.write]"))
        let pingLine = try #require(listing.stdout.split(separator: "\n").first { $0.contains("/crm.testing.v1.abi10/Ping ") })
        #expect(pingLine.hasSuffix("[writes] (undeclared)"))
    }

    @Test func aPluginBuiltAgainstABIOnesFirstHeaderLoadsAndServes() async throws {
        let crmd = try CrmdProcess(plugins: ["abi10", "futurestride"])
        let client = try crmd.connect()
        let plugins = try await allPlugins(client)
        for name in ["abi10", "futurestride"] {
            let plugin = try #require(plugins.first { $0.name == name })
            #expect(plugin.state == .loaded, "\(name): \(plugin.reason)")
            #expect(try await client.call("/crm.testing.v1.\(name)/Ping", []).isEmpty)
        }
        _ = try crmd.stop()
        let database = DatabaseFile(dataDir: crmd.dir + "/data")
        // Both migrations of each ran: their entries were read at the stamped size.
        let recorded = try database.rows(
            "SELECT plugin, version FROM kernel_migrations WHERE plugin IN ('abi10', 'futurestride') ORDER BY plugin, version")
        #expect(recorded == [["abi10", "1"], ["abi10", "2"], ["futurestride", "1"], ["futurestride", "2"]])
        // abi10's Ping writes (by its flag) and publishes a topic it declares
        // nowhere, as plugins could before options: still allowed.
        #expect(try database.rows("SELECT topic, publisher FROM kernel_outbox") == [["abi10.thing.pinged", "abi10"]])
    }

    @Test func aPluginHandlerGetsItsPluginAndTheHostTable() async throws {
        let crmd = try CrmdProcess(plugins: ["selfhandler"], environment: ["CRM_PLUGIN_SELFHANDLER_GREETING": "bonjour"])
        let reply = try await crmd.connect().call("/crm.testing.v1.selfhandler/Ping", [])
        // Field 1 (length-delimited) holds the config value it read through `self`.
        #expect(reply == [0x0A, 7] + Array("bonjour".utf8))
    }

    @Test func aPluginPublishesOnlyTheTopicsItsEventMessagesDeclare() async throws {
        let crmd = try CrmdProcess(plugins: ["probe"])
        let client = try crmd.connect()
        func put(_ key: String, topic: String) async throws -> Crm_Testing_V1_PutResponse {
            var request = Crm_Testing_V1_PutRequest()
            request.key = key
            request.value = "v"
            request.publish = true
            request.topic = topic
            return try await client.call("/crm.testing.v1.Probe/Put", request, as: Crm_Testing_V1_PutResponse.self)
        }
        #expect(try await put("declared", topic: "probe.item.created").sequence > 0)
        await expectRPCError(.failedPrecondition, mentioning: "topic \"probe.item.deleted\" is not declared by plugin probe") {
            _ = try await put("undeclared", topic: "probe.item.deleted")
        }
        await expectRPCError(.failedPrecondition,
                             mentioning: "topic \"probe.item.looked_up\" carries crm.testing.v1.GetRequest, not crm.testing.v1.PutRequest") {
            _ = try await put("mistyped", topic: "probe.item.looked_up")
        }
        // A topic outside the plugin's prefix is still a malformed topic.
        await expectRPCError(.invalidArgument, mentioning: "must be probe.") {
            _ = try await put("foreign", topic: "sales.lead.created")
        }
        // The refused writes rolled back with their events.
        var get = Crm_Testing_V1_GetRequest()
        get.key = "undeclared"
        #expect(try await client.call("/crm.testing.v1.Probe/Get", get, as: Crm_Testing_V1_GetResponse.self).found == false)
    }
}
