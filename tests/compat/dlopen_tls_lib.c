/* A library with initial-exec (static) TLS, for dlopen_tls.c. glibc puts
 * it in the static TLS surplus when it is dlopened. */
__attribute__((tls_model("initial-exec"))) __thread int tls_value = 1234;
__attribute__((tls_model("initial-exec"))) __thread char tls_zeroes[64];

int lib_get(void)
{
	for (int i = 0; i < 64; i++)
		if (tls_zeroes[i] != 0)
			return -1;
	return tls_value;
}

void lib_set(int v)
{
	tls_value = v;
	tls_zeroes[v % 64] = 0; /* touch it; stays zero */
}
