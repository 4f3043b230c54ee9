// A failed call as the gateway reports it: a google.rpc.Status in JSON, whether a service or
// Envoy refused ({"code", "message", "details": [ErrorInfo, BadRequest, ...]}).

export interface FieldViolation {
  field: string;
  description: string;
}

/** gRPC status codes by number (google.rpc.Code). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export class ApiError extends Error {
  constructor(
    /** The google.rpc.Code (0 when the network failed before any answer). */
    readonly code: number,
    /** ErrorInfo.reason, or a name of our own: NETWORK, HTTP_<status>. */
    readonly reason: string,
    message: string,
    readonly httpStatus: number,
    readonly violations: FieldViolation[] = [],
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Whether trying the same request again (with the same request id) may succeed. */
  get retryable(): boolean {
    return (
      this.reason === "NETWORK" ||
      this.code === Code.UNAVAILABLE ||
      this.code === Code.DEADLINE_EXCEEDED ||
      this.code === Code.ABORTED
    );
  }

  /** The violations of one field (and its sub-fields), e.g. "capacity" or "series.capacity". */
  violationsOf(field: string): FieldViolation[] {
    return this.violations.filter(
      (v) =>
        v.field === field ||
        v.field.endsWith(`.${field}`) ||
        v.field.startsWith(`${field}.`) ||
        snakeToCamel(v.field) === field ||
        snakeToCamel(v.field).endsWith(`.${field}`),
    );
  }
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

interface StatusDetail {
  "@type"?: string;
  reason?: string;
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
}

interface StatusBody {
  code?: number;
  message?: string;
  details?: StatusDetail[];
}

const HTTP_TO_CODE: Record<number, number> = {
  400: Code.INVALID_ARGUMENT,
  401: Code.UNAUTHENTICATED,
  403: Code.PERMISSION_DENIED,
  404: Code.NOT_FOUND,
  409: Code.ABORTED,
  429: Code.RESOURCE_EXHAUSTED,
  499: Code.CANCELLED,
  500: Code.INTERNAL,
  501: Code.UNIMPLEMENTED,
  503: Code.UNAVAILABLE,
  504: Code.DEADLINE_EXCEEDED,
};

/** The ApiError an HTTP answer carries (its body a google.rpc.Status, or anything else). */
export function errorFromResponse(httpStatus: number, body: unknown): ApiError {
  const status = (typeof body === "object" && body !== null ? body : {}) as StatusBody;
  const details = Array.isArray(status.details) ? status.details : [];
  const info = details.find((d) => d["@type"]?.endsWith("google.rpc.ErrorInfo"));
  const bad = details.find((d) => d["@type"]?.endsWith("google.rpc.BadRequest"));
  const code =
    typeof status.code === "number" ? status.code : (HTTP_TO_CODE[httpStatus] ?? Code.UNKNOWN);
  return new ApiError(
    code,
    info?.reason ?? `HTTP_${httpStatus}`,
    typeof status.message === "string" ? status.message : `HTTP ${httpStatus}`,
    httpStatus,
    bad?.fieldViolations ?? [],
    info?.metadata ?? {},
  );
}

export function networkError(cause: unknown): ApiError {
  return new ApiError(0, "NETWORK", cause instanceof Error ? cause.message : String(cause), 0);
}
