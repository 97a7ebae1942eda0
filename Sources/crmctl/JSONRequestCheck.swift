import Foundation
import SwiftProtobuf

/// Says why a JSON request does not fit its message type, naming the field:
/// `person.organizationId: expected an integer (int64 as a JSON number or
/// decimal string), got "abc"`. swift-protobuf's errors name no field, so this
/// walks the JSON against the type's descriptor and asks swift-protobuf about
/// one field at a time (inside a document holding only that field's path) to
/// find the first one it refuses.
struct JSONRequestCheck {
    typealias Field = Contracts.FieldDescriptor

    let type: any Message.Type

    /// The explanation for `text`, which swift-protobuf refused with `error`.
    func explain(_ text: String, _ error: Error) -> String {
        let document: Any
        do {
            document = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return "not JSON: \(reason ?? error.localizedDescription)"
        }
        guard let object = document as? [String: Any] else {
            return "expected a JSON object, got \(Self.render(document))"
        }
        guard let schema = Contracts.messages[type.protoMessageName] else { return "\(error)" }
        return walk(object, schema, type.protoMessageName, path: "", wrap: { $0 }) ?? "\(error)"
    }

    /// The first refused field of `object`, a `typeName` message found at `path`;
    /// `wrap` puts a value at that path in an otherwise empty request.
    private func walk(_ object: [String: Any], _ schema: Contracts.MessageDescriptor, _ typeName: String,
                      path: String, wrap: @escaping (Any) -> Any) -> String? {
        for key in object.keys.sorted() {
            let value = object[key]!
            if accepts(wrap([key: value])) { continue }
            let at = path + key
            guard let field = schema.field.first(where: { $0.jsonName == key || $0.name == key }) else {
                let names = schema.field.map(\.jsonName).joined(separator: ", ")
                return "\(at): no such field in \(typeName); fields: \(names)"
            }
            return describe(field, value, at, { wrap([key: $0]) }) ?? "\(at): \(refusal(wrap([key: value])))"
        }
        // Each field passes alone, so two members of one oneof may clash.
        for (index, oneof) in schema.oneofDecl.enumerated() {
            let members = schema.field.filter { $0.hasOneofIndex && Int($0.oneofIndex) == index && !$0.proto3Optional }
            let given = object.keys.filter { key in members.contains { $0.jsonName == key || $0.name == key } }.sorted()
            if given.count > 1 {
                let at = path.isEmpty ? "" : String(path.dropLast()) + ": "
                return "\(at)only one of \(given.joined(separator: ", ")) may be set (oneof \(oneof.name))"
            }
        }
        return nil
    }

    /// Why `value` does not fit `field` (a map, a repeated field or a single value).
    private func describe(_ field: Field, _ value: Any, _ at: String, _ wrap: @escaping (Any) -> Any) -> String? {
        if let entry = Contracts.mapEntry(field), let keyField = entry.field.first(where: { $0.number == 1 }),
           let valueField = entry.field.first(where: { $0.number == 2 }) {
            guard let map = value as? [String: Any] else { return mismatch(at, expected: Self.expectation(field), value) }
            for key in map.keys.sorted() where !accepts(wrap([key: map[key]!])) {
                let entryAt = "\(at)[\(Self.render(key))]"
                if keyField.type != .string, !accepts(wrap([key: Self.zeroValue(valueField)])) {
                    return "\(entryAt): expected a key that is \(Self.expectation(keyField))"
                }
                return describeOne(valueField, map[key]!, entryAt, { wrap([key: $0]) })
            }
            return nil
        }
        if field.label == .repeated {
            guard let array = value as? [Any] else { return mismatch(at, expected: Self.expectation(field), value) }
            for (index, element) in array.enumerated() where !accepts(wrap([element])) {
                return describeOne(field, element, "\(at)[\(index)]", { wrap([$0]) })
            }
            return nil
        }
        return describeOne(field, value, at, wrap)
    }

    private func describeOne(_ field: Field, _ value: Any, _ at: String, _ wrap: @escaping (Any) -> Any) -> String? {
        let typeName = Contracts.typeName(field.typeName)
        // Well-known types have JSON forms of their own (strings, for instance).
        if field.type == .message, !typeName.hasPrefix("google.protobuf."),
           let schema = Contracts.messages[typeName], let object = value as? [String: Any] {
            return walk(object, schema, typeName, path: at + ".", wrap: wrap)
        }
        return mismatch(at, expected: Self.singleExpectation(field), value)
    }

    private func mismatch(_ at: String, expected: String, _ value: Any) -> String {
        "\(at): expected \(expected), got \(Self.render(value))"
    }

    private func accepts(_ document: Any) -> Bool {
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.fragmentsAllowed]) else {
            return false
        }
        return (try? type.init(jsonString: String(decoding: data, as: UTF8.self))) != nil
    }

    /// swift-protobuf's own words, when the walk cannot say more.
    private func refusal(_ document: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.fragmentsAllowed]) else {
            return "not valid"
        }
        do {
            _ = try type.init(jsonString: String(decoding: data, as: UTF8.self))
            return "not valid"
        } catch {
            return "\(error)"
        }
    }
}
