/** Up to two initials of a display name, for a user without an avatar. */
function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!] : words;
  return letters.map((word) => [...word][0]?.toUpperCase() ?? '').join('') || '?';
}

/**
 * A round picture of a user: their avatar's thumbnail on its dominant colour
 * while it loads, or their initials. Decorative next to a visible name
 * (`alt=""`), otherwise `label` names it.
 */
export function Avatar({
  name,
  url,
  placeholder,
  size = 36,
  label,
}: {
  name: string;
  url?: string | null | undefined;
  placeholder?: string | null | undefined;
  size?: number;
  label?: string;
}) {
  const style = { width: size, height: size, fontSize: Math.round(size * 0.4) };
  if (url) {
    return (
      <img
        className="avatar"
        src={url}
        alt={label ?? ''}
        width={size}
        height={size}
        style={{ ...style, background: placeholder ?? undefined }}
      />
    );
  }
  return (
    <span
      className="avatar avatar-initials"
      style={style}
      role={label ? 'img' : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : true}
    >
      {initials(name)}
    </span>
  );
}
