// Topic keywords in Debian package descriptions (data/debian_keywords.csv, made by
// scripts/debian_keywords.py): each description has `words` counted words, and `games`,
// `sound`, … of them name a topic. A topic's count is binomial with the row's own number of
// trials, `words[n]`, and a rate per cluster; the M-step pools the expected trials:
// p_k = Σ_n r_nk x_n / Σ_n r_nk words_n.
model binomial_keywords
const K: int = 6
data   words[N]: count
data   games[N]: count
data   sound[N]: count
data   graphics[N]: count
data   math[N]: count
data   database[N]: count
data   radio[N]: count
param  w: simplex[K]
param  p_games[K]: prob
param  p_sound[K]: prob
param  p_graphics[K]: prob
param  p_math[K]: prob
param  p_database[K]: prob
param  p_radio[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
games[n] ~ Binomial(words[n], p_games[z[n]])
sound[n] ~ Binomial(words[n], p_sound[z[n]])
graphics[n] ~ Binomial(words[n], p_graphics[z[n]])
math[n] ~ Binomial(words[n], p_math[z[n]])
database[n] ~ Binomial(words[n], p_database[z[n]])
radio[n] ~ Binomial(words[n], p_radio[z[n]])
