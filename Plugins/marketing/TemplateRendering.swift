import CRMPluginKit
import ContactsContract
import Foundation
import MarketingContract
import Mustache
import ContactsLinkKit

/// One template rendered for one person.
struct RenderedEmail: Sendable, Equatable {
    /// One line (CR, LF and other controls in merged values became spaces), at most 998 bytes.
    var subject: String
    /// Empty when the template has no HTML body.
    var html: String
    /// Empty when the template has no text body.
    var text: String
    /// The merge fields the template uses that had no value, sorted.
    var emptyFields: [String]
}

/// Rendering (for campaigns, and PreviewTemplate) with compiled templates
/// kept per id and version.
enum TemplateRendering {
    /// A rendered body above this is refused before it is built: values are
    /// bounded, but thousands of tags each merging a long one are not.
    static let maxRenderedBytes = 4 * 1024 * 1024
    static let previewUnsubscribeURL = "https://unsubscribe.invalid/preview"

    /// Renders template `templateID` for `person` and their `organization`
    /// (the caller looked both up). FAILED_PRECONDITION for a deleted
    /// template or a body that would be too large; NOT_FOUND for no such
    /// template; INVALID_ARGUMENT for an empty unsubscribeURL. Compiles each
    /// version of a template once per process.
    static func render(_ ctx: CallContext, _ db: Database, templateID: Int64, person: Person,
                       organization: Organization?, unsubscribeURL: String) throws -> RenderedEmail {
        guard !unsubscribeURL.isEmpty else { throw PluginError.invalidArgument("unsubscribe_url is required to render") }
        let (compiled, _) = try compiledTemplate(db, templateID, field: "template_id")
        return try render(compiled, TemplateFields.values(person: person, organization: organization,
                                                          unsubscribeURL: unsubscribeURL))
    }

    /// The live template's compiled parts and its version.
    static func compiledTemplate(_ db: Database, _ id: Int64, field: String) throws -> (CompiledTemplate, Int64) {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT version, deleted_us FROM marketing_templates WHERE id = ?",
                                     [.integer(id)]).first, let version = row[0].int else {
            throw PluginError.notFound("\(field): template \(id) does not exist")
        }
        guard row[1].int == 0 else { throw PluginError.failedPrecondition("\(field): template \(id) is deleted") }
        if let hit = cache.get(id, version) { return (hit, version) }
        let t = try TemplateStore(db: db).require(id, field: field)
        let compiled = try TemplateCompiler.compile(subject: t.subject, html: t.htmlBody, text: t.textBody)
        cache.put(id, t.version, compiled)
        return (compiled, t.version)
    }

    static func render(_ compiled: CompiledTemplate, _ values: [String: Any]) throws -> RenderedEmail {
        var empty = Set<String>()
        for tag in compiled.parts.flatMap(\.tags) where tag.name != TemplateFields.organizationSection {
            if TemplateFields.lookup(tag.name, in: values) == nil { empty.insert(tag.name) }
        }
        let subject = try renderPart(compiled.subject, values)
        return RenderedEmail(subject: TemplateEscaping.headerLine(subject, maxBytes: Templates.maxSubjectBytes),
                             html: try renderPart(compiled.html, values), text: try renderPart(compiled.text, values),
                             emptyFields: empty.sorted())
    }

    private static func renderPart(_ part: CompiledPart, _ values: [String: Any]) throws -> String {
        guard !part.templates.isEmpty else { return "" }
        // The output is the part's text plus each variable's value, grown by
        // escaping or a transform: bounded before anything is built.
        var bound = part.source.utf8.count
        for tag in part.tags where tag.kind == .variable || tag.kind == .unescaped {
            let length = TemplateFields.lookup(tag.name, in: values)?.utf8.count ?? 0
            bound += length * (part.part == .htmlBody ? TemplateEscaping.maxGrowth : 1) * (tag.transform == nil ? 1 : 3)
            if bound > maxRenderedBytes {
                throw PluginError.failedPrecondition("\(part.part.rawValue): the rendered text would exceed "
                    + "\(maxRenderedBytes / 1024 / 1024) MiB for this person")
            }
        }
        return part.templates.map { $0.render(values) }.joined()
    }

    // MARK: - PreviewTemplate

    static func preview(_ ctx: CallContext, _ req: Crm_Marketing_V1_PreviewTemplateRequest) throws
        -> Crm_Marketing_V1_TemplatePreview {
        try Validate.positiveID(req.personID, "person_id")
        let url = req.unsubscribeURL.isEmpty ? previewUnsubscribeURL : req.unsubscribeURL
        try checkURL(url, "unsubscribe_url")
        let db = try ctx.database
        var response = Crm_Marketing_V1_TemplatePreview()
        let compiled: CompiledTemplate
        switch req.source {
        case .templateID(let id)?:
            (compiled, response.templateVersion) = try compiledTemplate(db, id, field: "template_id")
        case .template(var inline)?:
            compiled = try Templates.validate(ctx, &inline, prefix: "template.", named: false)
        case nil:
            throw PluginError.invalidArgument("template_id or template is required")
        }
        let person = try requirePerson(ctx, req.personID)
        let rendered = try render(compiled, TemplateFields.values(
            person: person, organization: try organization(ctx, of: person), unsubscribeURL: url))
        response.subject = rendered.subject
        response.htmlBody = rendered.html
        response.textBody = rendered.text
        response.emptyFields = rendered.emptyFields
        return response
    }

    /// The person as contacts shows them to the caller; one that cannot be
    /// mailed (deleted, merged, erased) is FAILED_PRECONDITION.
    static func requirePerson(_ ctx: CallContext, _ id: Int64) throws -> Person {
        guard let person = try ContactsLink.person(ctx, id) else {
            throw PluginError.notFound("person_id: person \(id) does not exist")
        }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("person_id: person \(id) is erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("person_id: person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("person_id: person \(id) is deleted") }
        return person
    }

    /// The person's organization if the caller may see it and it is live;
    /// otherwise the template renders as for a person without one.
    static func organization(_ ctx: CallContext, of person: Person) throws -> Organization? {
        guard person.organizationID > 0 else { return nil }
        let organization: Organization?
        do {
            organization = try ContactsLink.organization(ctx, person.organizationID)
        } catch let error as PluginError where error.status == .permissionDenied {
            return nil
        }
        guard let organization, organization.deletedUnixUs == 0, organization.mergedIntoID == 0 else { return nil }
        return organization
    }

    static func checkURL(_ url: String, _ field: String) throws {
        guard url.utf8.count <= 2000 else { throw PluginError.invalidArgument("\(field) is longer than 2000 bytes") }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), URL(string: url)?.host?.isEmpty == false,
              !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw PluginError.invalidArgument("\(field) is not an http(s) URL: \"\(url.prefix(200))\"")
        }
    }

    // MARK: - Cache

    static let cache = TemplateCache()
}

/// Compiled templates by id and version: a new version is a new key, so an
/// entry is never stale. Shared by the reader threads and the writer.
final class TemplateCache: @unchecked Sendable {
    private struct Key: Hashable { let id: Int64, version: Int64 }
    private let lock = NSLock()
    private var entries: [Key: CompiledTemplate] = [:]
    private let capacity = 128

    func get(_ id: Int64, _ version: Int64) -> CompiledTemplate? {
        lock.withLock { entries[Key(id: id, version: version)] }
    }

    func put(_ id: Int64, _ version: Int64, _ compiled: CompiledTemplate) {
        lock.withLock {
            // Older versions of the same template are dead; past capacity, start over.
            entries = entries.filter { $0.key.id != id }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[Key(id: id, version: version)] = compiled
        }
    }
}
