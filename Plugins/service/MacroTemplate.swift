import CRMPluginKit
import Foundation
import Mustache

/// A macro's reply or note template, parsed by swift-mustache (the engine
/// marketing's templates use) and checked against the merge fields a
/// ticket offers. As in marketing's TemplateCompiler, the tag names are
/// read from the engine's own parse, so what was checked is what renders;
/// constructs we do not support (partials, inheritance, pragmas, set
/// delimiters) and deep nesting (the engine's parser recurses) are refused
/// before the engine sees them. Rendered as text: nothing is escaped, a
/// reply is not HTML.
struct MacroTemplate {
    let template: MustacheTemplate
    /// Every name the template uses (sections too), sorted.
    let fields: [String]

    static let maxDepth = 20
    static let maxTags = 500
    static let transforms: Set<String> = ["capitalized", "lowercased", "uppercased"]
    static let fixedFields: Set<String> = [
        "ticket.id", "ticket.subject", "ticket.status", "ticket.priority", "ticket.channel", "ticket.type", "ticket.team",
        "ticket.assignee", "requester.first_name", "requester.last_name", "requester.name", "requester.email",
        "organization.name", "agent.name",
    ]
    /// Sections may also test these (whether a ticket has a requester or organization).
    static let sectionFields: Set<String> = ["organization", "requester", "ticket.fields"]
    static let fieldPrefix = "ticket.fields."

    /// Parses and checks `source`; INVALID_ARGUMENT naming `field` with the
    /// line and column of a construct refused, or the unknown merge field.
    /// `customFields` are the defined custom field keys.
    static func compile(_ source: String, field: String, customFields: Set<String>) throws -> MacroTemplate {
        let normalized = source.contains("\r\n") ? source.replacingOccurrences(of: "\r\n", with: "\n") : source
        try prescan(normalized, field)
        let template: MustacheTemplate
        do {
            // The pragma is a standalone line that eats its "\n": the text parses as if alone, one line down.
            template = try MustacheTemplate(string: "{{%CONTENT_TYPE:TEXT}}\n" + normalized)
        } catch let error as MustacheTemplate.ParserError {
            throw PluginError.invalidArgument("\(field): line \(max(1, error.context.lineNumber - 1)), "
                + "column \(error.context.columnNumber): not a template (\(error.error))")
        }
        var names: [(String, Bool)] = []
        try walk(template, field, depth: 0, into: &names)
        for (name, isSection) in names {
            if fixedFields.contains(name) || (isSection && sectionFields.contains(name)) { continue }
            if name.hasPrefix(fieldPrefix), customFields.contains(String(name.dropFirst(fieldPrefix.count))) { continue }
            throw PluginError.invalidArgument("\(field): unknown merge field \"\(name.prefix(80))\"" + (name.hasPrefix(fieldPrefix)
                ? " (no custom field has that key; SetCustomField defines one)"
                : " (known: " + fixedFields.sorted().joined(separator: ", ") + ", ticket.fields.<key>)"))
        }
        return MacroTemplate(template: template, fields: Set(names.map(\.0)).sorted())
    }

    func render(_ values: [String: Any]) -> String { template.render(values) }

    private static func refused(_ source: String, _ field: String, at offset: Int, _ why: String) -> PluginError {
        let before = String(decoding: source.utf8.prefix(offset), as: UTF8.self)
        let line = before.reduce(1) { $1.isNewline ? $0 + 1 : $0 }
        let column = before.reversed().prefix { !$0.isNewline }.count + 1
        return .invalidArgument("\(field): line \(line), column \(column): \(why)")
    }

    private static func prescan(_ source: String, _ field: String) throws {
        let bytes = Array(source.utf8)
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        func find(_ a: UInt8, _ b: UInt8, from start: Int) -> Int? {
            var i = start
            while i + 1 < bytes.count {
                if bytes[i] == a && bytes[i + 1] == b { return i }
                i += 1
            }
            return nil
        }
        var depth = 0, i = 0, count = 0
        while let start = find(open, open, from: i) {
            let j = start + 2
            guard j < bytes.count else { break }
            count += 1
            if count > maxTags { throw refused(source, field, at: start, "more than \(maxTags) tags") }
            let end = find(close, close, from: j) ?? bytes.count
            i = end
            switch bytes[j] {
            case UInt8(ascii: "!"): i = end + 2; continue
            case UInt8(ascii: "="): throw refused(source, field, at: start, "set delimiters ({{=...=}}) are not supported")
            case UInt8(ascii: "%"): throw refused(source, field, at: start, "pragmas ({{%...}}) are not supported")
            case UInt8(ascii: ">"): throw refused(source, field, at: start, "partials ({{>name}}) are not supported")
            case UInt8(ascii: "<"), UInt8(ascii: "$"):
                throw refused(source, field, at: start, "template inheritance ({{<name}}, {{$name}}) is not supported")
            case UInt8(ascii: "#"), UInt8(ascii: "^"):
                depth += 1
                if depth > maxDepth { throw refused(source, field, at: start, "sections are nested more than \(maxDepth) deep") }
            case UInt8(ascii: "/"): depth = max(0, depth - 1)
            default: break
            }
            if bytes[j..<end].lazy.filter({ $0 == UInt8(ascii: "(") }).count > 1 {
                throw refused(source, field, at: start, "nested transforms are not supported")
            }
        }
    }

    /// The engine's tokens, read by reflection (its token type is not
    /// public); a shape we do not know is refused rather than let through.
    private static func walk(_ template: MustacheTemplate, _ field: String, depth: Int, into names: inout [(String, Bool)]) throws {
        guard depth <= maxDepth, let tokens = child(template, "tokens") else { throw inspectionFailed }
        for token in Mirror(reflecting: tokens).children {
            let mirror = Mirror(reflecting: token.value)
            guard mirror.displayStyle == .enum, let kase = mirror.children.first, let label = kase.label else { throw inspectionFailed }
            let payload = kase.value
            switch label {
            case "text", "contentType":
                continue
            case "variable", "unescapedVariable", "section", "invertedSection":
                guard let name = child(payload, "name") as? String, let applied = child(payload, "transforms") as? [String] else {
                    throw inspectionFailed
                }
                guard applied.count <= 1 else { throw PluginError.invalidArgument("\(field): {{\(name)}}: nested transforms are not supported") }
                if let t = applied.first, !transforms.contains(t) {
                    throw PluginError.invalidArgument("\(field): unknown transform \"\(t)\" on \(name); use "
                        + transforms.sorted().joined(separator: ", "))
                }
                let isSection = label == "section" || label == "invertedSection"
                names.append((name, isSection))
                if isSection {
                    guard let inner = child(payload, "template") as? MustacheTemplate else { throw inspectionFailed }
                    try walk(inner, field, depth: depth + 1, into: &names)
                }
            case "partial", "dynamicNamePartial":
                throw PluginError.invalidArgument("\(field): partials ({{>name}}) are not supported")
            case "blockDefinition", "blockExpansion":
                throw PluginError.invalidArgument("\(field): template inheritance is not supported")
            default:
                throw inspectionFailed
            }
        }
    }

    private static func child(_ value: Any, _ label: String) -> Any? {
        Mirror(reflecting: value).children.first { $0.label == label }?.value
    }

    private static let inspectionFailed = PluginError(.internal,
        "the template engine's parse has a shape this plugin does not know; the template was not checked")
}
