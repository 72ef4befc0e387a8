/* Preloaded before libgmpt: a glibc version outside the range gmpt knows,
 * so its per-thread TLS set-up refuses (tests/config/tls_mode.sh). */
const char *gnu_get_libc_version(void);

const char *gnu_get_libc_version(void)
{
	return "2.99";
}
