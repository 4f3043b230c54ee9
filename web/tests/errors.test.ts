import { describe, expect, it } from "vitest";
import { ApiError, Code, errorFromResponse } from "../src/api/errors";

describe("errorFromResponse", () => {
  it("reads the reason and the field violations of a google.rpc.Status", () => {
    const error = errorFromResponse(400, {
      code: 3,
      message: "capacity: must be positive",
      details: [
        { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INVALID_ARGUMENT", domain: "yoga.studio" },
        {
          "@type": "type.googleapis.com/google.rpc.BadRequest",
          fieldViolations: [{ field: "yoga_class.capacity", description: "must be positive" }],
        },
      ],
    });
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.reason).toBe("INVALID_ARGUMENT");
    expect(error.violationsOf("capacity")).toHaveLength(1);
    expect(error.violationsOf("title")).toHaveLength(0);
  });

  it("names an answer that is not a Status by its HTTP status", () => {
    const error = errorFromResponse(503, "upstream connect error");
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe(Code.UNAVAILABLE);
    expect(error.reason).toBe("HTTP_503");
    expect(error.retryable).toBe(true);
  });
});
